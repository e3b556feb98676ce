"""Seats: the contract lock, the count of seats taken, and the seat check (SPEC §5, §6, §9).

The law, which every way of taking a seat obeys (checkout and the payment callback through
``b2b.services.redemption``, SSO login, staff in the Django admin, ``membership_add``):

- A seat is a learner's place in a capped contract. Seats taken = learners attached (memberships)
  + other learners holding a seat through an order awaiting its payment (not attached, not the
  learner deciding) + open seat assignments (SPEC §9: a seat given to an email, not yet used).
  ``SeatCount`` holds the terms and ``_FACTS_SQL`` reads them; a new way of holding a seat is one
  more term in both, and nowhere else.
- A learner already attached, holding a seat through an order of their own that awaits its
  payment, or the assignee of an open assignment (a verified email of theirs), takes no new
  seat. Anyone else takes one only while seats taken < ``max_learners``
  (``seat_check`` raises ``ContractFull`` otherwise). An uncapped contract has seats for all.
- Decided under the contract lock: ``contract_lock`` locks the contract's own row
  (``SELECT ... FOR UPDATE OF b2b_contractpage``), never Wagtail's page row or the organization's,
  so editors keep working while learners check out; every decision about a contract's seats
  serialises on that row. ``contract_facts(..., for_update=True)`` takes the lock and then reads
  everything the rules decide on in one statement whose snapshot is taken after the lock is
  granted, so it sees what the previous holder committed. A preview (a form, the cart) reads the
  same facts without the lock (``for_update=False``) and applies the same ``seat_check``; the
  decision is made again under the lock.
- Lock order everywhere: basket, code, order, contract (checkout locks the code with the
  basket's code, before releasing a pending order; the payment callback locks basket, order,
  contract and no code). The code adjustment and ``b2b_codes deactivate`` lock codes only, never
  the contract row. SQLite has no row locks: it serialises writers.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import astuple, dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from b2b.exceptions import ContractFull, ContractNotFound
from b2b.models import ContractPage, ContractTerms
from b2b.services.audit import PageRef
from courses.models import CourseRun
from ecommerce.models import Order
from main.models import User


def _not_found(contract_id: int) -> ContractNotFound:
    return ContractNotFound(
        f"No contract with ID {contract_id}: `manage.py b2b_list contracts` lists them."
    )


@dataclass(frozen=True)
class SeatCount:
    """The terms of the seats taken on a capped contract (zero terms but ``members`` for an
    uncapped one): ``members``, learners attached; ``held``, other learners holding a seat through
    an order awaiting its payment (neither attached nor the learner the facts are about);
    ``assigned``, open seat assignments (``b2b.models.SeatAssignment``)."""

    members: int
    held: int
    assigned: int = 0

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
    decided; capped contracts only), ``assignee`` (an open seat assignment is for one of their
    verified emails; capped contracts only), ``code_elsewhere`` (the code asked about is held by
    a seat assigned to an email that is not theirs) and the contract's ``seats``."""

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
    assignee: bool = False
    code_elsewhere: bool = False

    @property
    def pk(self) -> int:
        return self.id

    @property
    def page(self) -> PageRef:
        """The contract's page, for its audit trail, without loading it."""
        return PageRef(ContractPage, self.id, self.name)

    @property
    def has_seat(self) -> bool:
        """The learner takes no new seat: attached, holding one through a pending order, or the
        assignee of an open assignment."""
        return self.attached or (self.max_learners is not None and (self.holding or self.assignee))

    @property
    def seats_free(self) -> int | None:
        """Seats not taken (never below 0), or None for an uncapped contract."""
        if self.max_learners is None:
            return None
        return max(0, self.max_learners - self.seats.taken)


#: The facts' statement (``contract_facts``): one row of the contract and organization tables,
#: with the learner's and the seats' subqueries, no ORM (building the equivalent query cost about
#: 7 ms of the 14.8 ms the facts took per checkout, under a lock every learner queues on). Its
#: placeholders, in order: the user (attached), then per ``{enrolled}``, ``{holding}``, the
#: assignee and ``{held}`` the parameters ``_facts_params`` gives. The terms of ``SeatCount``
#: are ``members``, ``held`` and ``assigned``: a new term is one more column here and in
#: ``SeatCount``.
_FACTS_SQL = """
SELECT c.page_ptr_id, c.name, o.name, c.enrollment_fixed_price, c.integration_type, c.active,
  c.contract_start, c.contract_end, c.max_learners,
  EXISTS (SELECT 1 FROM b2b_contractmembership m
          WHERE m.contract_id = c.page_ptr_id AND m.user_id = %s) AS attached,
  {enrolled} AS enrolled,
  CASE WHEN c.max_learners IS NULL THEN FALSE ELSE EXISTS (
    SELECT 1 FROM ecommerce_order p
    WHERE p.state = %s AND p.purchaser_id = %s{not_order} AND {of_contract}
  ) END AS holding,
  CASE WHEN c.max_learners IS NULL THEN FALSE ELSE EXISTS (
    SELECT 1 FROM b2b_seatassignment a
    JOIN account_emailaddress ea ON LOWER(ea.email) = a.email
    WHERE a.contract_id = c.page_ptr_id AND a.status = 'open' AND ea.user_id = %s AND ea.verified
  ) END AS assignee,
  {code_elsewhere} AS code_elsewhere,
  (SELECT COUNT(*) FROM b2b_contractmembership m WHERE m.contract_id = c.page_ptr_id) AS members,
  CASE WHEN c.max_learners IS NULL THEN 0 ELSE (
    SELECT COUNT(DISTINCT p.purchaser_id) FROM ecommerce_order p
    WHERE p.state = %s AND p.purchaser_id <> %s{not_order} AND {of_contract}
      AND NOT EXISTS (SELECT 1 FROM b2b_contractmembership m
                      WHERE m.contract_id = c.page_ptr_id AND m.user_id = p.purchaser_id)
      AND NOT EXISTS (SELECT 1 FROM b2b_seatassignment a
                      JOIN account_emailaddress ea ON LOWER(ea.email) = a.email
                      WHERE a.contract_id = c.page_ptr_id AND a.status = 'open'
                        AND ea.user_id = p.purchaser_id AND ea.verified)
  ) END AS held,
  CASE WHEN c.max_learners IS NULL THEN 0 ELSE (
    SELECT COUNT(*) FROM b2b_seatassignment a
    WHERE a.contract_id = c.page_ptr_id AND a.status = 'open'
  ) END AS assigned
FROM b2b_contractpage c
JOIN b2b_organizationpage o ON o.page_ptr_id = c.organization_id
WHERE c.page_ptr_id = %s
"""
# An order "of the contract": one of its lines sells a product of one of the contract's runs.
_OF_CONTRACT = """EXISTS (
      SELECT 1 FROM ecommerce_line l
      JOIN ecommerce_product pr ON pr.id = l.product_id
      JOIN courses_courserun r ON r.id = pr.course_run_id
      WHERE l.order_id = p.id AND r.b2b_contract_id = c.page_ptr_id)"""
# The code asked about is held by an open seat assignment for an email that is not a verified
# address of the learner (SPEC §9: only the assignee may use it).
_CODE_ELSEWHERE = """EXISTS (SELECT 1 FROM b2b_seatassignmentcode h
      JOIN b2b_seatassignment a ON a.id = h.assignment_id
      WHERE h.discount_id = %s AND a.status = 'open' AND NOT EXISTS (
        SELECT 1 FROM account_emailaddress ea
        WHERE ea.user_id = %s AND ea.verified AND LOWER(ea.email) = a.email))"""
_ENROLLED = """EXISTS (SELECT 1 FROM courses_courserunenrollment e
                 WHERE e.user_id = %s AND e.run_id = %s AND e.active)"""


@functools.cache
def _facts_sql(with_run: bool, with_order: bool, with_code: bool = False) -> str:
    return _FACTS_SQL.format(
        enrolled=_ENROLLED if with_run else "FALSE",
        code_elsewhere=_CODE_ELSEWHERE if with_code else "FALSE",
        not_order=" AND p.id <> %s" if with_order else "",
        of_contract=_OF_CONTRACT,
    )


def _facts_params(
    contract_id: int,
    user_id: int,
    run_id: int | None,
    order_id: int | None,
    code_id: int | None = None,
) -> list[Any]:
    pending = Order.State.PENDING.value
    not_order = [order_id] if order_id is not None else []
    return [
        user_id,
        *([user_id, run_id] if run_id is not None else []),
        pending,
        user_id,
        *not_order,
        user_id,
        *([code_id, user_id] if code_id is not None else []),
        pending,
        user_id,
        *not_order,
        contract_id,
    ]


_LOCK_SQL = 'SELECT 1 FROM b2b_contractpage WHERE page_ptr_id = %s FOR UPDATE OF "b2b_contractpage"'


def contract_lock(contract_id: int) -> None:
    """Lock the contract's own row for the current transaction (SPEC §5): the row every decision
    about the contract's seats serialises on. One statement, on the contract table alone (no
    join: Wagtail's page row and the organization's stay unlocked). Raises ``ContractNotFound``.
    Call it inside a transaction, after any basket, order or code lock it takes. (SQLite has no
    row locks: there it only checks that the contract exists; its writers are serialised.)"""
    sql = _LOCK_SQL
    if not connection.features.has_select_for_update:
        sql = sql[: sql.index(" FOR UPDATE")]
    with connection.cursor() as cursor:
        cursor.execute(sql, [contract_id])
        locked = cursor.fetchone()
    if locked is None:
        raise _not_found(contract_id)


def _date(value: Any) -> dt.date | None:
    """A date column as read by a raw cursor (SQLite gives ISO text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _price(value: Any) -> Decimal | None:
    """The fixed price column, as Decimal with 2 places (SQLite gives a number)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(Decimal("0.01"))


def contract_facts(
    contract_id: int,
    *,
    user: User,
    run: CourseRun | None = None,
    order: Order | None = None,
    code_id: int | None = None,
    for_update: bool,
) -> ContractFacts:
    """The contract's facts for ``user`` (see ``ContractFacts``), with ``enrolled`` about ``run``
    and ``holding`` not counting ``order`` (the order being decided), and
    ``code_elsewhere`` about the enrollment code ``code_id`` (held by a seat assigned to someone
    else).

    ``for_update``: lock the contract row first (``contract_lock``: one statement) and read the
    facts after it is granted; without it, a preview that decides nothing. One hand-written
    statement on the contract and organization tables (no join through Wagtail's page table),
    with the learner's and the seats' subqueries (``_FACTS_SQL``). Raises ``ContractNotFound``.
    """
    if for_update:
        contract_lock(contract_id)
    order_id = order.pk if order is not None else None
    run_id = run.pk if run is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            _facts_sql(run_id is not None, order_id is not None, code_id is not None),
            _facts_params(contract_id, user.pk, run_id, order_id, code_id),
        )
        row = cursor.fetchone()
    if row is None:
        raise _not_found(contract_id)
    (pk, name, organization_name, price, integration_type, active, start, end, cap) = row[:9]
    attached, enrolled, holding, assignee, code_elsewhere, members, held, assigned = row[9:]
    return ContractFacts(
        id=pk,
        name=name,
        organization_name=organization_name,
        integration_type=integration_type,
        active=bool(active),
        contract_start=_date(start),
        contract_end=_date(end),
        max_learners=cap,
        enrollment_fixed_price=_price(price),
        attached=bool(attached),
        enrolled=bool(enrolled),
        holding=bool(holding),
        assignee=bool(assignee),
        code_elsewhere=bool(code_elsewhere),
        seats=SeatCount(members=members, held=held, assigned=assigned),
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
    if seats.assigned:
        held += f" and {seats.assigned} assigned by email"
    raise ContractFull(
        f"Contract {facts.id} ({facts.name!r}) is full: {seats.members} of its "
        f"{facts.max_learners} learners are attached{held}. Raise its learner cap or detach a "
        "learner first."
    )
