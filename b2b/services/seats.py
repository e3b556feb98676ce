"""Seats: the contract lock, the count of seats taken, and the seat check (SPEC §5, §6, §9).

The law, which every way of taking a seat obeys (checkout and the payment callback through
``b2b.services.redemption``, SSO login, staff in the Django admin, ``membership_add``):

- A seat is a learner's place in a capped contract. Seats taken = learners attached (memberships)
  + other learners holding a seat through an order awaiting its payment (not attached, not the
  learner deciding). ``SeatCount`` holds the terms and ``_seat_terms`` reads them; a new way of
  holding a seat (SPEC §9's open assignments) is one more term in both, and nowhere else.
- A learner already attached, or holding a seat through an order of their own that awaits its
  payment, takes no new seat. Anyone else takes one only while seats taken < ``max_learners``
  (``seat_check`` raises ``ContractFull`` otherwise). An uncapped contract has seats for all.
- Decided under the contract lock: ``contract_lock`` locks the contract's own row
  (``SELECT ... FOR UPDATE OF b2b_contractpage``), never Wagtail's page row or the organization's,
  so editors keep working while learners check out; every decision about a contract's seats
  serialises on that row. ``contract_facts(..., for_update=True)`` takes the lock and then reads
  everything the rules decide on in one statement whose snapshot is taken after the lock is
  granted, so it sees what the previous holder committed. A preview (a form, the cart) reads the
  same facts without the lock (``for_update=False``) and applies the same ``seat_check``; the
  decision is made again under the lock.
- Lock order everywhere: basket, order, code, contract. The code adjustment and
  ``b2b_codes deactivate`` lock codes only, never the contract row. SQLite has no row locks: it
  serialises writers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import BaseExpression

from b2b.exceptions import ContractFull, ContractNotFound
from b2b.models import ContractMembership, ContractPage, ContractTerms
from b2b.services.audit import PageRef
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.models import Order
from main.models import User


def _not_found(contract_id: int) -> ContractNotFound:
    return ContractNotFound(
        f"No contract with ID {contract_id}: `manage.py b2b_list contracts` lists them."
    )


def contract_lock(contract_id: int) -> None:
    """Lock the contract's own row for the current transaction (SPEC §5): the row every decision
    about the contract's seats serialises on. One statement, on the contract table alone (no
    join: Wagtail's page row and the organization's stay unlocked). Raises ``ContractNotFound``.
    Call it inside a transaction, after any basket, order or code lock it takes."""
    locked = (
        ContractPage.objects.select_for_update(of=("self",))
        .filter(pk=contract_id)
        .order_by("pk")  # not Wagtail's default ordering by path: that joins the page table
        .values_list("pk", flat=True)
        .first()
    )
    if locked is None:
        raise _not_found(contract_id)


@dataclass(frozen=True)
class SeatCount:
    """The terms of the seats taken on a capped contract (zero terms but ``members`` for an
    uncapped one): ``members``, learners attached; ``held``, other learners holding a seat through
    an order awaiting its payment (neither attached nor the learner the facts are about)."""

    members: int
    held: int

    @property
    def taken(self) -> int:
        """Seats taken: the sum of the terms."""
        return sum(astuple(self))


@dataclass(frozen=True)
class ContractFacts(ContractTerms):
    """What the contract rules read about a contract and one learner, in one statement
    (``contract_facts``): the contract's terms (``ContractTerms`` gives ``price``, ``is_free``,
    ``is_sso``, ``is_in_force``...), and about the learner: ``attached`` (a membership),
    ``enrolled`` (an active enrollment in the run asked about; False when none was), ``holding``
    (a seat held through an order of theirs awaiting its payment, other than the order being
    decided; capped contracts only) and the contract's ``seats``."""

    id: int
    name: str
    organization_name: str
    integration_type: str
    active: bool
    contract_start: dt.date | None
    contract_end: dt.date | None
    max_learners: int | None
    enrollment_fixed_price: Decimal | None
    attached: bool
    enrolled: bool
    holding: bool
    seats: SeatCount

    @property
    def pk(self) -> int:
        return self.id

    @property
    def page(self) -> PageRef:
        """The contract's page, for its audit trail, without loading it."""
        return PageRef(ContractPage, self.id, self.name)

    @property
    def has_seat(self) -> bool:
        """The learner takes no new seat: attached, or holding one through a pending order."""
        return self.attached or (self.max_learners is not None and self.holding)

    @property
    def seats_free(self) -> int | None:
        """Seats not taken (never below 0), or None for an uncapped contract."""
        if self.max_learners is None:
            return None
        return max(0, self.max_learners - self.seats.taken)


class _CountOf(Subquery):
    """``COUNT(*)`` of a subquery's rows, as a scalar (PostgreSQL and SQLite)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


def _pending(order: Order | None) -> Any:
    """Orders awaiting their payment for a product of the contract row's runs (not ``order``)."""
    pending = Order.objects.filter(
        state=Order.State.PENDING, lines__product__course_run__b2b_contract=OuterRef("pk")
    )
    return pending if order is None else pending.exclude(pk=order.pk)


def _seat_terms(user: User, order: Order | None) -> dict[str, BaseExpression]:
    """One expression per ``SeatCount`` field, on the contract row (``OuterRef("pk")``). The terms
    beyond ``members`` are read for capped contracts only (``CASE`` skips them otherwise)."""
    members = ContractMembership.objects.filter(contract=OuterRef("pk"))
    others = (
        _pending(order)
        .exclude(purchaser=user)
        .exclude(
            purchaser__in=ContractMembership.objects.filter(
                contract=OuterRef(OuterRef("pk"))
            ).values("user_id")
        )
    )
    return {
        "members": _CountOf(members.values("pk")),
        "held": _capped(_CountOf(others.values("purchaser_id").distinct()), Value(0)),
    }


def _capped(expression: BaseExpression, uncapped: Value) -> Case:
    return Case(
        When(max_learners__isnull=True, then=uncapped),
        default=expression,
        output_field=uncapped.output_field,
    )


_TERMS = ("integration_type", "active", "contract_start", "contract_end", "max_learners")


def contract_facts(
    contract_id: int,
    *,
    user: User,
    run: CourseRun | None = None,
    order: Order | None = None,
    for_update: bool,
) -> ContractFacts:
    """The contract's facts for ``user`` (see ``ContractFacts``), with ``enrolled`` about ``run``
    and ``holding`` not counting ``order`` (the order being decided).

    ``for_update``: lock the contract row first (``contract_lock``: one statement) and read the
    facts after it is granted; without it, a preview that decides nothing. One statement on the
    contract and organization tables (no join through Wagtail's page table), with the learner's
    and the seats' subqueries. Raises ``ContractNotFound``.
    """
    if for_update:
        contract_lock(contract_id)
    enrolled: BaseExpression = Value(False)
    if run is not None:
        enrolled = Exists(CourseRunEnrollment.objects.filter(user=user, run=run, active=True))
    row = (
        ContractPage.objects.filter(pk=contract_id)
        .annotate(
            organization_name=F("organization__name"),
            attached=Exists(ContractMembership.objects.filter(contract=OuterRef("pk"), user=user)),
            enrolled=enrolled,
            holding=_capped(Exists(_pending(order).filter(purchaser=user)), Value(False)),
            **_seat_terms(user, order),
        )
        .values(
            "pk",
            "name",
            "organization_name",
            "enrollment_fixed_price",
            "attached",
            "enrolled",
            "holding",
            *_TERMS,
            *SeatCount.__dataclass_fields__,
        )
        .order_by("pk")  # not Wagtail's default ordering by path: that joins the page table
        .first()
    )
    if row is None:
        raise _not_found(contract_id)
    seats = SeatCount(**{name: row.pop(name) for name in SeatCount.__dataclass_fields__})
    return ContractFacts(
        id=row.pop("pk"),
        attached=bool(row.pop("attached")),
        enrolled=bool(row.pop("enrolled")),
        holding=bool(row.pop("holding")),
        seats=seats,
        **row,
    )


def seat_check(facts: ContractFacts, *, to_learner: bool = False) -> None:
    """Refuse the learner a seat the contract does not have (SPEC §5, §9): ``ContractFull``
    unless they have one already (``has_seat``) or seats taken < ``max_learners``.

    Pure (no query): apply it to facts read under the lock to decide, or read without it to
    preview. ``to_learner`` words the refusal for the learner (checkout); otherwise for staff,
    with the count.
    """
    free = facts.seats_free
    if facts.has_seat or free is None or free > 0:
        return
    if to_learner:
        raise ContractFull(
            f"The contract “{facts.name}” has no seats left (its {facts.max_learners} learners "
            "are attached): your code stays unused. Contact your organization."
        )
    seats = facts.seats
    held = f" and {seats.held} held by orders awaiting payment" if seats.held else ""
    raise ContractFull(
        f"Contract {facts.id} ({facts.name!r}) is full: {seats.members} of its "
        f"{facts.max_learners} learners are attached{held}. Raise its learner cap or detach a "
        "learner first."
    )
