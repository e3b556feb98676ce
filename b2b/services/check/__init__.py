"""Whether every contract is whole, and the safe repairs (``manage.py b2b_check``).

``contracts_check`` reads a fixed number of set-based queries (aggregates grouped by contract or
product), whatever the number of codes and learners, and returns ``Finding`` objects. Each names
its contract, a ``kind`` (``KINDS``), a severity (``error``, ``warning``, ``note``), what was
expected, what was found, and the command that fixes it. ``repairs_plan`` turns the findings into
the safe repairs and ``repairs_apply`` carries them out: re-run the code adjustment (SPEC §4,
which re-prices products and codes), re-queue Open edX syncs (SPEC §8), deactivate the products
of runs no longer on a contract (SPEC §2 ``remove``). Nothing here deletes a redemption, an
enrollment or a membership.
"""

from __future__ import annotations

from django.utils import timezone

from b2b.exceptions import OrganizationNotFound
from b2b.models import ContractPage, OrganizationPage
from b2b.services.check.codes import codes_findings, codes_pending_findings
from b2b.services.check.findings import (
    ERROR,
    FINDING_KEYS,
    KINDS,
    NOTE,
    SEVERITIES,
    STALE_AFTER,
    WARNING,
    CheckResult,
    Finding,
    Repair,
)
from b2b.services.check.memberships import memberships_findings
from b2b.services.check.redemptions import redemptions_findings
from b2b.services.check.repairs import repairs_apply, repairs_plan
from b2b.services.check.runs import (
    products_findings,
    products_read,
    removed_run_findings,
    runs_findings,
    runs_read,
)
from b2b.services.contracts import contract_get

__all__ = [
    "ERROR",
    "FINDING_KEYS",
    "KINDS",
    "NOTE",
    "SEVERITIES",
    "WARNING",
    "CheckResult",
    "Finding",
    "Repair",
    "contracts_check",
    "repairs_apply",
    "repairs_plan",
]


def _scope(contract_id: int | None, organization_id: int | None) -> list[ContractPage]:
    queryset = ContractPage.objects.select_related("organization").order_by("pk")
    if contract_id is not None:
        return [contract_get(contract_id)]
    if organization_id is not None:
        if not OrganizationPage.objects.filter(pk=organization_id).exists():
            raise OrganizationNotFound(
                f"No organization with ID {organization_id}: `manage.py b2b_list organizations` "
                "lists them."
            )
        queryset = queryset.filter(organization_id=organization_id)
    return list(queryset)


def contracts_check(
    *, contract_id: int | None = None, organization_id: int | None = None
) -> CheckResult:
    """Check the contracts (one, an organization's, or all) against SPEC §1, §4, §5 and §8.

    Raises ``ContractNotFound`` / ``OrganizationNotFound`` for unknown IDs. Reads only: a fixed
    number of queries (about a dozen), aggregated in the database, whatever the number of codes,
    learners or redemptions; rows fetched grow with contracts, runs and products, and with the
    distinct (amount, dates, type) combinations of a product's codes, never with the codes.
    """
    contracts = _scope(contract_id, organization_id)
    by_id = {c.pk: c for c in contracts}
    result = CheckResult(contract_ids=list(by_id))
    findings: list[Finding] = []
    now = timezone.now()
    stale = now - STALE_AFTER
    ids = list(by_id)
    if ids:
        findings += memberships_findings(by_id, now)
        runs = runs_read(ids)
        products = products_read(ids)
        findings += products_findings(by_id, runs, products)
        findings += codes_findings(by_id, runs, products)
        findings += codes_pending_findings(by_id, now)
        findings += redemptions_findings(ids, stale)
        findings += runs_findings(by_id, runs, stale)
    findings += removed_run_findings(
        set(ids), unscoped=contract_id is None and organization_id is None
    )
    order = {kind: n for n, kind in enumerate(KINDS)}
    findings.sort(key=lambda f: (f.contract or 0, order[f.kind], f.subject))
    result.findings = findings
    return result
