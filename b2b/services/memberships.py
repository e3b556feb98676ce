"""Attaching learners to contracts and detaching them (SPEC §1 "attached learner", §5, §6, §7).

``membership_add`` is the one rule for a new membership, whatever the source: the Django admin
(``manual``), checkout (``code``) and SSO login (``sso``) all call it. It locks the contract row
(``contract_lock``, the same lock checkout takes), then counts the memberships under that lock, so
the learner cap holds however many learners arrive at once; the unique constraint on (learner,
contract) backs the one-membership rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from b2b.exceptions import AlreadyAttached, ContractFull, ContractInactive, ContractNotFound
from b2b.models import ContractMembership, ContractPage
from b2b.services.audit import audit_record
from b2b.services.contracts import contract_get
from main.actors import Actor

LEARNER_KEYS = ("email", "name", "source", "since")


@dataclass
class MembershipAddResult:
    """The learner's membership; ``created`` is false when they were attached already."""

    membership: ContractMembership
    created: bool


def contract_lock(contract_id: int) -> ContractPage:
    """Lock the contract's own row (``SELECT ... FOR UPDATE OF b2b_contractpage``) for the
    current transaction and return the contract; ``ContractNotFound`` for an unknown ID.

    The row every decision about the contract's seats serialises on: ``membership_add`` and
    checkout take it before counting learners. Only the contract table's row is locked, not
    Wagtail's page row (editors keep working). SQLite has no row locks; it serialises writers.
    """
    contract = ContractPage.objects.select_for_update(of=("self",)).filter(pk=contract_id).first()
    if contract is None:
        raise ContractNotFound(
            f"No contract with ID {contract_id}: `manage.py b2b_list contracts` lists them."
        )
    return contract


def _label(user: AbstractBaseUser) -> str:
    return getattr(user, "email", "") or user.get_username()


def _check_open(contract: ContractPage) -> None:
    if not contract.active:
        raise ContractInactive(
            f"Contract {contract.pk} ({contract.name!r}) is inactive, so no learner can be "
            "attached to it: activate it first (in Wagtail, or "
            f"`b2b_contract modify {contract.pk} --active`)."
        )
    ends = contract.ends_at
    if ends is not None and ends < timezone.now():
        raise ContractInactive(
            f"Contract {contract.pk} ({contract.name!r}) ended on "
            f"{contract.contract_end.isoformat()}, so no learner can be attached to it: extend "
            "its end date first."
        )


def _check_seat(contract: ContractPage, learners: int, seats_held: int) -> None:
    cap = contract.max_learners
    if cap is not None and learners + seats_held >= cap:
        held = f" and {seats_held} held by orders awaiting payment" if seats_held else ""
        raise ContractFull(
            f"Contract {contract.pk} ({contract.name!r}) is full: {learners} of its {cap} learners "
            f"are attached{held}. Raise its learner cap or detach a learner first."
        )


def membership_check(user: AbstractBaseUser, *, contract: ContractPage) -> None:
    """Whether ``membership_add`` would attach ``user`` now, without locking anything: for forms
    that want to show the refusal on the field. ``membership_add`` decides again under the lock.

    Raises ``AlreadyAttached``, ``ContractInactive`` or ``ContractFull``.
    """
    if user.pk and ContractMembership.objects.filter(user=user, contract=contract).exists():
        raise AlreadyAttached(f"{_label(user)} is already attached to contract {contract.pk}.")
    _check_open(contract)
    _check_seat(contract, ContractMembership.objects.filter(contract=contract).count(), 0)


def membership_add(
    user: AbstractBaseUser,
    *,
    contract_id: int,
    source: str,
    seats_held: int = 0,
    actor: Actor | None = None,
) -> MembershipAddResult:
    """Attach ``user`` to a contract, recording how they came (``source``: sso / code / manual).

    In the caller's transaction (or its own): locks the contract row, refuses an inactive or
    ended contract (``ContractInactive``) and a full one (``ContractFull``: attached learners +
    ``seats_held`` ≥ ``max_learners``; ``seats_held`` lets checkout count seats its pending orders
    hold), and writes the membership and its audit entry. A learner attached already keeps the
    membership they have (its source unchanged): ``created`` false, nothing written, no seat
    taken. ``actor`` defaults to the one the interface set (``main.actors``). Raises
    ``ContractNotFound`` and ``ValueError`` for an unknown source.
    """
    if source not in ContractMembership.Source.values:
        raise ValueError(f"unknown membership source {source!r}")
    with transaction.atomic():
        contract = contract_lock(contract_id)
        existing = ContractMembership.objects.filter(user=user, contract=contract).first()
        if existing is not None:
            return MembershipAddResult(existing, created=False)
        _check_open(contract)
        learners = ContractMembership.objects.filter(contract=contract).count()
        _check_seat(contract, learners, seats_held)
        membership = ContractMembership.objects.create(user=user, contract=contract, source=source)
        audit_record(
            contract,
            action="membership.add",
            changes={
                "learner": {"before": None, "after": _label(user)},
                "source": {"before": None, "after": source},
                "learners": {"before": learners, "after": learners + 1},
            },
            actor=actor,
        )
    return MembershipAddResult(membership, created=True)


def membership_remove(
    user: AbstractBaseUser, *, contract_id: int, actor: Actor | None = None
) -> bool:
    """Detach ``user`` from a contract (any source); their enrollments stay (SPEC §6).

    Locks the contract row like ``membership_add``; records the audit entry. Returns false when
    the learner was not attached (nothing written). Raises ``ContractNotFound``.
    """
    with transaction.atomic():
        contract = contract_lock(contract_id)
        membership = ContractMembership.objects.filter(user=user, contract=contract).first()
        if membership is None:
            return False
        learners = ContractMembership.objects.filter(contract=contract).count()
        membership.delete()
        audit_record(
            contract,
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


@dataclass
class LearnerContractRun:
    """A run on one of the learner's contracts: ``enrolled`` (an active enrollment) and
    ``can_enroll`` (the dashboard offers Enroll: free SSO contract in force, not enrolled)."""

    run: Any
    enrolled: bool
    can_enroll: bool


@dataclass
class LearnerContract:
    """A contract the learner is attached to, how (``source``), and its runs by title."""

    contract: ContractPage
    source: str
    runs: list[LearnerContractRun]


def learner_contracts(user: AbstractBaseUser) -> list[LearnerContract]:
    """The contracts ``user`` is attached to (by organization name, then oldest contract first),
    each with its contract runs; three queries whatever the numbers (SPEC §6: the dashboard)."""
    from courses.models import CourseRun, CourseRunEnrollment

    memberships = list(
        ContractMembership.objects.filter(user=user)
        .select_related("contract__organization")
        .order_by("contract__organization__name", "contract_id")
    )
    ids = [m.contract_id for m in memberships]
    runs = list(
        CourseRun.objects.filter(b2b_contract_id__in=ids)
        .select_related("course")
        .order_by("title", "courseware_id")
    )
    enrolled = set(
        CourseRunEnrollment.objects.filter(user=user, active=True, run__in=runs).values_list(
            "run_id", flat=True
        )
    )
    now = timezone.now()
    result = []
    for membership in memberships:
        contract = membership.contract
        open_free = contract.is_sso and contract.is_free and contract.is_in_force(now)
        result.append(
            LearnerContract(
                contract=contract,
                source=membership.source,
                runs=[
                    LearnerContractRun(
                        run=run,
                        enrolled=run.pk in enrolled,
                        can_enroll=open_free and run.pk not in enrolled,
                    )
                    for run in runs
                    if run.b2b_contract_id == contract.pk
                ],
            )
        )
    return result
