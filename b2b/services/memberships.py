"""Attaching learners to contracts and detaching them (SPEC §1 "attached learner", §5, §6, §7).

``membership_write`` is the one writer of a new membership, whatever the source: checkout and the
payment callback (``code``, through ``b2b.services.redemption``), SSO login (``sso``) and staff in
the Django admin (``manual``, through ``membership_add``). It writes under the contract lock, with
the facts read under it (``b2b.services.seats``), never past the learner cap, and records the audit
entry with the actor its caller names. The unique constraint on (learner, contract) backs the
one-membership rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from b2b.exceptions import AlreadyAttached, ContractInactive
from b2b.models import ContractMembership, ContractPage, SeatAssignment
from b2b.services.audit import audit_entry, audit_record
from b2b.services.contracts import contract_get
from b2b.services.seats import ContractFacts, contract_facts, seat_check
from main.actors import Actor
from main.models import User
from main.rows import rows_insert

LEARNER_KEYS = ("email", "name", "source", "since")


@dataclass
class MembershipAddResult:
    """The learner's membership; ``created`` is false when they were attached already."""

    membership: ContractMembership
    created: bool


def _label(user: User) -> str:
    return getattr(user, "email", "") or user.get_username()


def _check_open(facts: ContractFacts) -> None:
    if not facts.active:
        raise ContractInactive(
            f"Contract {facts.id} ({facts.name!r}) is inactive, so no learner can be "
            "attached to it: activate it first (in Wagtail, or "
            f"`b2b_contract modify {facts.id} --active`)."
        )
    ends = facts.ends_at
    if ends is not None and ends < timezone.now():
        assert facts.contract_end is not None
        raise ContractInactive(
            f"Contract {facts.id} ({facts.name!r}) ended on "
            f"{facts.contract_end.isoformat()}, so no learner can be attached to it: extend "
            "its end date first."
        )


def membership_write(
    user: User, *, facts: ContractFacts, source: str, actor: Actor
) -> ContractMembership | None:
    """Attach ``user`` to the contract ``facts`` are about, recording how they came (``source``:
    sso / code / manual) and who did it (``actor``) in the contract's audit trail (SPEC §7).

    Call it in the transaction that holds the contract lock the facts were read under
    (``contract_facts(..., for_update=True)``), once the caller's own rules admitted the learner.
    Whatever they were, no membership is written past the cap (``seat_check``: ``ContractFull``).
    A learner attached already keeps the membership they have: None, nothing written. One
    statement on PostgreSQL for the membership and its audit entry (``main.rows.rows_insert``;
    two elsewhere), and one more that closes the open seat assignment of their verified email
    (``joined``) when there is one, or on an uncapped contract. Raises ``ValueError`` for an
    unknown source.
    """
    if source not in ContractMembership.Source.values:
        raise ValueError(f"unknown membership source {source!r}")
    if facts.attached:
        return None
    seat_check(facts)
    learners = facts.seats.members
    membership = ContractMembership(user=user, contract_id=facts.id, source=source)
    entry = audit_entry(
        facts.page,
        action="membership.add",
        changes={
            "learner": {"before": None, "after": _label(user)},
            "source": {"before": None, "after": source},
            "learners": {"before": learners, "after": learners + 1},
        },
        actor=actor,
    )
    rows_insert(membership, entry)  # one statement on PostgreSQL: the contract lock is held
    if facts.assignee or facts.max_learners is None:
        # The seat assigned to one of their verified emails is now their membership (SPEC §9).
        SeatAssignment.objects.filter(
            contract_id=facts.id,
            status=SeatAssignment.Status.OPEN,
            email__in=EmailAddress.objects.filter(user=user, verified=True)
            .annotate(low=Lower("email"))
            .values("low"),
        ).update(status=SeatAssignment.Status.JOINED, closed_on=timezone.now())
    return membership


def membership_check(user: User, *, contract: ContractPage) -> None:
    """Whether ``membership_add`` would attach ``user`` (a saved user) now, without locking
    anything: for forms that want to show the refusal on the field. ``membership_add`` decides
    again under the lock.

    Raises ``AlreadyAttached``, ``ContractInactive`` or ``ContractFull``.
    """
    facts = contract_facts(contract.pk, user=user, for_update=False)
    if facts.attached:
        raise AlreadyAttached(f"{_label(user)} is already attached to contract {contract.pk}.")
    _check_open(facts)
    seat_check(facts)


def membership_add(
    user: User, *, contract_id: int, source: str, actor: Actor
) -> MembershipAddResult:
    """Attach ``user`` to a contract, recording how they came (``source``: sso / code / manual)
    and who did it (``actor``).

    In the caller's transaction (or its own): locks the contract row, refuses an inactive or
    ended contract (``ContractInactive``) and a full one (``ContractFull``: seats taken, SPEC §9,
    ≥ ``max_learners``), and writes the membership and its audit entry (``membership_write``). A
    learner attached already keeps the membership they have (its source unchanged): ``created``
    false, nothing written, no seat taken. Raises ``ContractNotFound`` and ``ValueError`` for an
    unknown source.
    """
    if source not in ContractMembership.Source.values:
        raise ValueError(f"unknown membership source {source!r}")
    with transaction.atomic():
        facts = contract_facts(contract_id, user=user, for_update=True)
        if facts.attached:
            existing = ContractMembership.objects.get(user=user, contract_id=contract_id)
            return MembershipAddResult(existing, created=False)
        _check_open(facts)
        membership = membership_write(user, facts=facts, source=source, actor=actor)
    assert membership is not None
    return MembershipAddResult(membership, created=True)


def membership_remove(user: User, *, contract_id: int, actor: Actor) -> bool:
    """Detach ``user`` from a contract (any source); their enrollments stay (SPEC §6).

    Locks the contract row like ``membership_add``; records the audit entry with ``actor``.
    Returns false when the learner was not attached (nothing written). Raises
    ``ContractNotFound``.
    """
    with transaction.atomic():
        facts = contract_facts(contract_id, user=user, for_update=True)
        if not facts.attached:
            return False
        membership = ContractMembership.objects.get(user=user, contract_id=contract_id)
        membership.delete()
        learners = facts.seats.members
        audit_record(
            facts.page,
            action="membership.remove",
            changes={
                "learner": {"before": _label(user), "after": None},
                "source": {"before": membership.source, "after": None},
                "learners": {"before": learners, "after": learners - 1},
            },
            actor=actor,
        )
    return True


def learners_list(contract_id: int) -> list[dict[str, Any]]:
    """The contract's attached learners (keys ``LEARNER_KEYS``), oldest membership first; one
    query whatever their number. ``since`` is ISO 8601. Raises ``ContractNotFound``."""
    contract = contract_get(contract_id)
    rows = (
        ContractMembership.objects.filter(contract=contract)
        .order_by("created_on", "pk")
        .values_list("user__email", "user__name", "source", "created_on")
    )
    return [
        {"email": email, "name": name, "source": source, "since": since.isoformat()}
        for email, name, source, since in rows
    ]
