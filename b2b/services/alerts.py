"""Alerts about a contract's seats and end (SPEC §9): its organization's managers (those who
asked for them) and the staff addresses in ``B2B_ALERT_EMAILS`` are mailed once when a contract
in force reaches 75 %, 90 % and 100 % of its seats (``b2b.services.seats``' count: attached, held
and assigned), and 30 and 7 days before its end date.

Once: each mail has a key (``alert:<contract>:<rule>:<address>``, ``main.mail.mail_queue``), so
a rule that fires again, a beat that runs twice, or two at once, mail nothing more. An
organization opts out with its ``seat_alerts`` field; a manager with their ``alerts`` flag.
Celery beat runs ``contract_alerts_send`` (``b2b.tasks.contract_alerts``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from b2b.models import ContractPage, OrganizationManager
from b2b.services.seats import ContractFacts, contract_facts
from main.mail import mail_queue, site_url
from main.models import OutgoingMail

SEAT_THRESHOLDS = (75, 90, 100)
DAYS_BEFORE_END = (30, 7)
_NOBODY: Any = type("Nobody", (), {"pk": 0})()


def alerts_due(facts: ContractFacts, today: dt.date) -> list[str]:
    """The rules that hold for a contract today: ``seats-75``, ``seats-90``, ``seats-100`` (seats
    taken ≥ that share of the cap) and ``ends-30``, ``ends-7`` (its end date within that many
    days, and not past). Pure."""
    rules = []
    cap = facts.max_learners
    if cap:
        taken = facts.seats.taken
        rules += [f"seats-{p}" for p in SEAT_THRESHOLDS if taken * 100 >= cap * p]
    end = facts.contract_end
    if end is not None and end >= today:
        rules += [f"ends-{d}" for d in DAYS_BEFORE_END if (end - today).days <= d]
    return rules


def _recipients(organization_id: int) -> list[str]:
    managers = OrganizationManager.objects.filter(
        organization_id=organization_id, alerts=True
    ).values_list("email", flat=True)
    staff = [e.strip().lower() for e in settings.B2B_ALERT_EMAILS if e.strip()]
    return list(dict.fromkeys([*managers, *staff]))


def contract_alerts_send(now: dt.datetime | None = None) -> int:
    """Mail every alert that is due and not mailed yet, for every contract in force whose
    organization has not opted out. Returns the number of mails queued now. One statement per
    contract for its seats, one per recipient for the mail's key."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    contracts = (
        ContractPage.objects.filter(active=True, organization__seat_alerts=True)
        .filter(Q(contract_end__isnull=True) | Q(contract_end__gte=today))
        .filter(Q(max_learners__isnull=False) | Q(contract_end__isnull=False))
        .select_related("organization")
        .order_by("pk")
    )
    queued = 0
    for contract in contracts:
        if not contract.is_in_force(now):
            continue
        facts = contract_facts(contract.pk, user=_NOBODY, for_update=False)
        due = alerts_due(facts, today)
        if not due:
            continue
        sent = set(
            OutgoingMail.objects.filter(key__startswith=f"alert:{contract.pk}:").values_list(
                "key", flat=True
            )
        )
        for address in _recipients(contract.organization_id or 0):
            for rule in _worth_mailing(due, contract.pk, address, sent):
                mail_queue(
                    address,
                    template="b2b/mail/contract_alert",
                    context=_context(contract, facts, rule),
                    key=_key(contract.pk, rule, address),
                )
                queued += 1
    return queued


def _key(contract_id: int, rule: str, address: str) -> str:
    return f"alert:{contract_id}:{rule}:{address}"


def _worth_mailing(due: list[str], contract_id: int, address: str, sent: set[str]) -> list[str]:
    """Of the rules due, the one mail per kind worth sending: the highest seat share and the
    nearest end, unless that one or a later one of its kind was mailed already (a contract that
    went from 70 % to 95 % gets the 90 % mail, never the 75 % one afterwards)."""
    worth = []
    for kind, order in (("seats", SEAT_THRESHOLDS), ("ends", DAYS_BEFORE_END)):
        rules = [f"{kind}-{n}" for n in order]  # from the first to fire to the last
        fired = [r for r in rules if r in due]
        if not fired:
            continue
        top = fired[-1]
        later = rules[rules.index(top) :]
        if not any(_key(contract_id, r, address) in sent for r in later):
            worth.append(top)
    return worth


def _context(contract: ContractPage, facts: ContractFacts, rule: str) -> dict[str, Any]:
    kind, number = rule.split("-")
    return {
        "organization": contract.organization.name if contract.organization else "",
        "contract": contract.name,
        "kind": kind,
        "percent": int(number) if kind == "seats" else None,
        "days": int(number) if kind == "ends" else None,
        "taken": facts.seats.taken,
        "cap": facts.max_learners,
        "end": facts.contract_end,
        "link": site_url(reverse("manage-contract", args=[contract.pk])),
    }
