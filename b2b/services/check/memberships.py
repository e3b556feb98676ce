"""Findings on seats and memberships: attached learners against the learner cap (SPEC §1,
§5) and memberships an SSO login or an ended contract leaves behind (SPEC §6)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q

from b2b.models import ContractMembership, ContractPage
from b2b.services.check.findings import (
    ERROR,
    NOTE,
    WARNING,
    Finding,
)


def memberships_findings(by_id: dict[int, ContractPage], now: dt.datetime) -> list[Finding]:
    """Attached learners against the learner cap (SPEC §1, §5), SSO memberships of organizations
    without an SSO ID (SPEC §6), memberships of contracts not in force. One grouped query."""
    rows = (
        ContractMembership.objects.filter(contract_id__in=list(by_id))
        .values("contract_id")
        .annotate(
            total=Count("pk"),
            sso_without_id=Count(
                "pk",
                filter=Q(
                    source=ContractMembership.Source.SSO,
                    contract__organization__sso_organization_id__isnull=True,
                ),
            ),
        )
        .order_by()
    )
    findings = []
    for row in rows:
        contract = by_id[row["contract_id"]]
        total, cap = row["total"], contract.max_learners
        if cap is not None and total > cap:
            findings.append(
                Finding(
                    contract.pk,
                    "seats-over-cap",
                    ERROR,
                    "learners",
                    f"at most {cap} attached learners",
                    f"{total} attached learners",
                    f"b2b_contract modify {contract.pk} --max-learners {total} (or detach "
                    "learners in the Django Admin)",
                )
            )
        elif cap is not None and total == cap:
            findings.append(
                Finding(
                    contract.pk,
                    "seats-at-cap",
                    NOTE,
                    "learners",
                    f"at most {cap} attached learners",
                    f"{total} attached learners: no seat left",
                    f"b2b_contract modify {contract.pk} --max-learners N to make room",
                )
            )
        if row["sso_without_id"]:
            org = contract.organization
            findings.append(
                Finding(
                    contract.pk,
                    "membership-sso",
                    WARNING,
                    "memberships",
                    f"sso memberships matched by organization {org.pk}'s SSO organization ID",
                    f"{row['sso_without_id']} sso memberships, no SSO organization ID (matched "
                    "by org key, from a claim without ids)",
                    f"manage.py b2b_organization modify {org.pk} --sso-id <the realm's "
                    "organization id>",
                )
            )
        if not contract.is_in_force(now):
            why = "inactive" if not contract.active else "outside its dates"
            findings.append(
                Finding(
                    contract.pk,
                    "membership-not-in-force",
                    NOTE,
                    "memberships",
                    "learners attached to a contract in force",
                    f"{total} attached learners; the contract is {why}",
                    f"b2b_contract modify {contract.pk} --active / --end YYYY-MM-DD if it "
                    "should be in force",
                )
            )
    return findings
