"""Getting into a contract run: seat, code, enrollment and membership, decided together (SPEC §5).

This is the one place where a learner enters a contract or a contract run. Checkout calls it for
a contract product, the payment callback calls it to complete a paid order, ``contract_enroll``
lets a learner attached to a free contract enroll without a code (My courses' Enroll button),
and ``contract_join`` attaches a learner with any usable code of a contract (``/join/``). Nothing
else creates an enrollment in a contract run or redeems an enrollment code.

The rules, checked in this order (each refusal has a stable ``code``):

1. A code is required (``code-required``), except for a learner attached to the contract (by
   SSO, by staff, by joining with a code or by an earlier checkout: SPEC §5, widened): the seat
   is theirs already, so they enroll in a free contract's runs and buy a priced contract's runs
   at its price with no code.
2. The code is linked to the product (``code-not-for-product``) and active (``code-deactivated``).
3. The contract is active and within its dates, and so is the code (``contract-inactive``).
4. The learner is not already enrolled in the run (``already-enrolled``): no second code is spent.
5. The code is unused: a one-time code by anyone, any code by this learner (``code-used``).
6. A code held by a seat assigned to an email (SPEC §9) is used only by the learner whose
   verified email (signed up and confirmed, or given by the organization's SSO) it is
   (``code-assigned-elsewhere``), on every path: the cart, checkout, joining.
7. A learner not yet attached takes a seat, by the law of ``b2b.services.seats`` (seats taken:
   attached learners plus other learners holding a seat with an order awaiting its payment,
   within ``max_learners``; ``contract-full``). An attached learner, one holding a seat with a
   pending order of theirs, or the assignee of an open seat assignment, takes no new seat.

Exactly once under concurrency (ARCHITECTURE, rule 3): the deciding functions lock the code row,
then the contract row (``b2b.services.seats.contract_facts``), and read everything they decide on
in statements issued after the locks are granted, so each sees what the previous holder
committed. Unique constraints back them: one redemption per one-time code, one per learner per
code, one enrollment per learner per run, one membership per learner per contract. Lock order:
the one ``b2b.services.seats`` states (basket, code, order, contract).

The writes go through their one writer each: ``redemption_record`` (the code),
``openedx.api.enrollment_enroll`` (the enrollment, and its LMS follow-up) and
``membership_write`` (the membership and its audit entry).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from b2b.exceptions import CodeAssignedElsewhere, ContractInactive, ContractNotFound
from b2b.models import ContractMembership, ContractPage
from b2b.services.memberships import membership_write
from b2b.services.seats import ContractFacts, contract_facts, seat_check
from courses.enrollments import UNREAD
from courses.exceptions import AlreadyEnrolled, RunNotEnrollable
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.exceptions import CodeRequired, InvalidCode, ProductUnavailable
from ecommerce.models import BasketDiscount, Discount, DiscountRedemption, Order, Product
from ecommerce.services.discounts import (
    code_not_for_product,
    code_used,
    discount_check_active,
    discount_find,
    discount_in_dates,
    discount_is_linked,
    discount_is_used,
    discount_use_read,
    redemption_record,
)
from main.actors import Actor, Via
from main.models import User
from openedx.api import enrollment_enroll

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContractCodeCheck:
    """What the cart needs to know about a contract product in a basket.

    ``needs_code`` is false for a learner attached to the contract.
    """

    contract: ContractFacts
    needs_code: bool


@dataclass
class ContractSeat:
    """The outcome of a decision: whether the learner is attached, and what was created.

    ``enrollment`` is None while an order waits for its payment; ``redemption`` is None when no
    code was needed; ``membership_created`` tells whether the learner was attached just now.
    """

    contract: ContractFacts
    attached: bool
    membership_created: bool
    enrollment: CourseRunEnrollment | None
    redemption: DiscountRedemption | None


# -- reading ---------------------------------------------------------------------------------


def product_contract_id(product: Product) -> int | None:
    """The ID of the contract whose run the product sells, or None for a product outside any
    contract (no query; the product's run must be loaded).

    Raises ``ProductUnavailable`` for a product off sale, or for the product of a run that was a
    contract run and has left its contract (it can never be sold outside the rules).
    """
    run = product.course_run
    if not product.is_active or (run.is_b2b and run.b2b_contract_id is None):
        raise ProductUnavailable(
            f"{product.description} is no longer on sale: ask the organization that gave you "
            "the link for a new one."
        )
    return run.b2b_contract_id if run.is_b2b else None


def product_contract(product: Product) -> ContractPage | None:
    """The contract (with its organization) whose run the product sells; see
    ``product_contract_id`` for the refusals."""
    contract_id = product_contract_id(product)
    if contract_id is None:
        return None
    return ContractPage.objects.select_related("organization").get(pk=contract_id)


def contract_code_check(
    user: User, *, product: Product, discount: Discount | None
) -> ContractCodeCheck:
    """Check, without locking, whether ``user`` could check out ``product`` with ``discount``.

    The cart calls it when a code is applied and to decide whether to offer checkout; checkout
    decides again under locks (``contract_checkout``). Raises the refusal that applies (rules in
    the module docstring) or ``ProductUnavailable``; ``product`` must be a contract product.
    A ``discount`` annotated by ``discount_with_use`` (for this learner and product) is not read
    again. One or two queries.
    """
    contract_id = product_contract_id(product)
    if contract_id is None:
        raise ValueError(f"product {product.pk} is not a contract product")
    run = product.course_run
    code_id = discount.pk if discount is not None else None
    facts = _facts(contract_id, user, run=run, order=None, code_id=code_id, for_update=False)
    code = discount
    if code is not None and not hasattr(code, "used_by_user"):
        code = _code(code.pk, user, product=product, lock=False)
    _decide(facts, code, run=run, now=timezone.now(), enrolled=facts.enrolled)
    return ContractCodeCheck(contract=facts, needs_code=not _code_free(facts))


# -- deciding (under locks) -------------------------------------------------------------------


def contract_checkout(
    user: User,
    *,
    product: Product,
    discount: Discount | None,
    order: Order,
    complete: bool,
    locked: bool = False,
    enrollment: CourseRunEnrollment | None | Any = UNREAD,
) -> ContractSeat:
    """Decide a checkout of a contract product, in the caller's transaction (SPEC §5).

    Locks the code row, then the contract row; applies the rules of the module docstring; then
    records the redemption of the code on ``order``. With ``complete`` (a zero total) the learner
    is also enrolled in the run and attached to the contract (membership source ``code``); without
    it (a pending, priced order) the code and the seat are held by the order until the payment
    callback completes it (``contract_order_complete``) or releases it.

    ``order`` must already have its line for ``product``. ``locked``: the caller locked the
    code's row already (checkout locks it with the basket's code, ``basket_discount``).
    ``enrollment``: the learner's enrollment in the run as the caller read it in this
    transaction (None: none; by default it is read here). Raises a refusal and changes nothing;
    the caller's transaction then rolls back whatever it wrote.
    """
    run = product.course_run
    with transaction.atomic(savepoint=False):
        # Read before the locks what cannot change under them: this learner's enrollment in the
        # run changes only by their own checkout (serialised by the basket lock) or, if another
        # path races, is caught by the enrollment's unique constraint (already-enrolled).
        if enrollment is UNREAD:
            enrollment = CourseRunEnrollment.objects.filter(user=user, run=run).first()
        enrolled = enrollment is not None and enrollment.active
        now = timezone.now()
        # The code first, and everything that does not need the contract's lock is done before
        # taking it: every learner of the contract waits for that lock, so it is held for the
        # seat's decision, the membership and the commit only.
        code = _code(discount.pk, user, product=product, lock=not locked) if discount else None
        if code is not None:
            _decide_code(code, run=run, enrolled=enrolled)
        redemption = (
            redemption_record(code, user=user, order_id=order.pk) if code is not None else None
        )
        if complete:
            enrollment = enrollment_enroll(user, run=run, existing=enrollment).enrollment
        facts = _facts(
            run.b2b_contract_id,
            user,
            run=None,
            order=order,
            code_id=code.pk if code is not None else None,
            for_update=True,
        )
        # All the rules again, in their order, now that the contract's facts are known (the
        # code's facts were read before this checkout's own redemption).
        _decide(facts, code, run=run, now=now, enrolled=enrolled)
        seat = ContractSeat(facts, facts.attached, False, enrollment, redemption)
        if complete:
            _attach(user, seat)
        return seat


def contract_order_complete(order: Order) -> list[ContractSeat]:
    """Complete a paid order's contract lines: enroll the purchaser and attach them (SPEC §5).

    Called by the payment callback in its transaction, while the order is still pending: the
    seat and the code were held by the order since checkout, so the learner is not refused for a
    full contract (the order holds their seat; ``ContractFacts.holding``), nor for one that closed
    since they paid. An enrollment that already exists is kept (and reactivated). Returns one seat
    per contract line, in line order.
    """
    seats: list[ContractSeat] = []
    with transaction.atomic(savepoint=False):
        user = order.purchaser
        lines = order.lines.select_related("product__course_run").order_by("pk")
        for line in lines:
            run = line.product.course_run
            if not run.is_b2b or run.b2b_contract_id is None:
                continue
            facts = _facts(run.b2b_contract_id, user, run=None, order=None, for_update=True)
            redemption = order.discount_redemptions.filter(
                redeemed_discount__product_links__product=line.product
            ).first()
            seat = ContractSeat(facts, facts.attached, False, None, redemption)
            seat.enrollment = enrollment_enroll(user, run=run).enrollment
            _attach(user, seat)
            seats.append(seat)
    return seats


def contract_enroll(user: User, *, run: CourseRun) -> CourseRunEnrollment:
    """Enroll ``user`` in a run of a free contract without a code: a learner attached to the
    run's contract may (SPEC §5, widened). Everyone else: ``code-required`` (the way in is
    ``/join/`` or the Product URL with a code). A priced contract's run is bought, not enrolled
    in: ``run-not-enrollable`` (its Product URL checks out at the contract price with no code).

    Locks the contract row; refuses ``contract-inactive`` and ``already-enrolled`` too. No order
    and no redemption are made. Raises ``ValueError`` for a run outside any contract.
    """
    if not run.is_b2b or run.b2b_contract_id is None:
        raise ValueError(f"run {run.courseware_id} is not a contract run")
    with transaction.atomic():
        enrollment = CourseRunEnrollment.objects.filter(user=user, run=run).first()
        facts = _facts(run.b2b_contract_id, user, run=None, order=None, for_update=True)
        _decide(
            facts,
            None,
            run=run,
            now=timezone.now(),
            enrolled=enrollment is not None and enrollment.active,
        )
        if not facts.is_free:
            raise RunNotEnrollable(
                f"{run.title} costs ${facts.price} under {facts.organization_name}'s contract: "
                "buy it from My courses (no code needed), then check out."
            )
        written = enrollment_enroll(user, run=run, existing=enrollment).enrollment
    return written


@dataclass(frozen=True)
class JoinResult:
    """What joining with a code did: the contract's facts (read under its lock), whether the
    learner was attached just now (``joined``; false: attached already, the code not spent), and
    the code's redemption when it was spent."""

    contract: ContractFacts
    joined: bool
    redemption: DiscountRedemption | None


def _join_actor(user: User) -> Actor:
    return Actor(via=Via.JOIN, user=user, name="join with a code")


def contract_join(user: User, *, code: str) -> JoinResult:
    """Attach ``user`` to the contract of an enrollment code (``/join/``, SPEC §5 "Joining").

    ``code`` as typed (case-insensitive, spaces trimmed). Any usable code of the contract will
    do, whichever course it came with: under the code's lock, then the contract's, the rules of
    checkout apply in their order (``code-deactivated``, ``contract-inactive``, ``code-used``,
    ``contract-full``), then the code is redeemed (no order: one budget per code across joining
    and checkout) and the learner attached (membership source ``code``, audit ``via`` join). A
    learner attached already is told so and spends nothing (``joined`` false). No enrollment is
    made: the learner then enrolls in the contract's runs from My courses without a code.

    Refusals: ``invalid-code`` (no such code, or a code of no contract), ``product-unavailable``
    (its course has left the contract), and the above; nothing is written.
    """
    discount = discount_find(code)
    product = (
        Product.objects.select_related("course_run")
        .filter(discount_links__discount=discount)
        .order_by("pk")
        .first()
    )
    contract_id = product_contract_id(product) if product is not None else None
    if product is None or contract_id is None:
        raise InvalidCode(
            "This code is not an enrollment code of an organization: check it against the one "
            "you were given."
        )
    with transaction.atomic():
        locked = _code(discount.pk, user, product=product, lock=True)
        facts = _facts(contract_id, user, run=None, order=None, code_id=locked.pk, for_update=True)
        if facts.attached:
            return JoinResult(facts, joined=False, redemption=None)
        _decide(facts, locked, run=product.course_run, now=timezone.now(), enrolled=False)
        redemption = redemption_record(locked, user=user, order_id=None)
        membership_write(
            user, facts=facts, source=ContractMembership.Source.CODE, actor=_join_actor(user)
        )
        # Spent here, the code leaves the learner's cart, where it would now be refused: the
        # cart checks a member out with no code.
        BasketDiscount.objects.filter(basket__user=user, discount_id=locked.pk).delete()
    return JoinResult(facts, joined=True, redemption=redemption)


# -- internals ---------------------------------------------------------------------------------


def _facts(
    contract_id: int | None,
    user: User,
    *,
    run: CourseRun | None,
    order: Order | None,
    code_id: int | None = None,
    for_update: bool,
) -> ContractFacts:
    """``contract_facts``, with a contract gone (or none) refused as a product no longer offered."""
    try:
        if contract_id is None:
            raise ContractNotFound("no contract")
        return contract_facts(
            contract_id, user=user, run=run, order=order, code_id=code_id, for_update=for_update
        )
    except ContractNotFound:
        raise ProductUnavailable("This course is no longer offered under a contract.") from None


def _code(discount_id: int, user: User, *, product: Product | None, lock: bool) -> Discount:
    """The code, with whether it is linked to ``product`` (``linked``), used by anyone
    (``used_by_anyone``) and by this learner (``used_by_user``); locked for checkout.

    Locking, the row is locked first and its use read by a second statement, whose snapshot is
    taken once the lock is granted: a checkout that redeemed the same code and released the lock
    by committing is seen (a single statement would read the redemptions as they were before it
    waited). Every redemption of a code is written under that code's row lock.
    """
    locked = Discount.objects.select_for_update(of=("self",)).filter(pk=discount_id)
    if lock and not locked.exists():
        raise InvalidCode("This enrollment code no longer exists: ask for a new one.")
    found = discount_use_read(discount_id, user=user, product=product)
    if found is None:  # deleted by the code adjustment since it was applied
        raise InvalidCode("This enrollment code no longer exists: ask for a new one.")
    return found


def _code_free(facts: ContractFacts) -> bool:
    """No code is needed: the learner is attached to the contract (SPEC §5, widened)."""
    return facts.attached


def _decide(
    facts: ContractFacts,
    code: Discount | None,
    *,
    run: CourseRun,
    now: dt.datetime,
    enrolled: bool,
) -> None:
    """Apply the rules in order to the contract's facts and the annotated code; raise the first
    refusal."""
    if code is None:
        if enrolled:  # checked first: no code is needed to be told so
            raise AlreadyEnrolled(
                f"You are already enrolled in {run.title}: find the course on My courses."
            )
        if not _code_free(facts):
            if facts.is_sso and facts.is_free:  # its learners come by the SSO login
                raise CodeRequired(
                    f"This course is offered to the learners of {facts.organization_name} "
                    "through their organization's login: log in with your organization, then "
                    "enroll from My courses."
                )
            raise CodeRequired(
                "This course is offered through your organization: enter the enrollment code "
                "you were given to enroll."
            )
    else:
        if not discount_is_linked(code):
            raise code_not_for_product()
        discount_check_active(code)
        if facts.code_elsewhere:
            raise CodeAssignedElsewhere(
                "This enrollment code was given to someone else by their organization, and only "
                "they can use it. Ask your organization for a seat of your own."
            )
    if not facts.is_in_force(now) or (code is not None and not discount_in_dates(code, now)):
        raise ContractInactive(
            f"Enrollment under the contract “{facts.name}” is closed (it is inactive or "
            "outside its dates): contact the organization that gave you the code."
        )
    if enrolled:
        raise AlreadyEnrolled(
            f"You are already enrolled in {run.title}: your code stays "
            "unused. Find the course on My courses."
        )
    if code is not None and discount_is_used(code):
        raise code_used()
    seat_check(facts, to_learner=True)


def _decide_code(code: Discount, *, run: CourseRun, enrolled: bool) -> None:
    """The rules that the code and the learner's enrollment decide alone, before the contract's
    lock: linked to the product, active, the learner not enrolled, the code unused."""
    if not discount_is_linked(code):
        raise code_not_for_product()
    discount_check_active(code)
    if enrolled:
        raise AlreadyEnrolled(
            f"You are already enrolled in {run.title}: your code stays "
            "unused. Find the course on My courses."
        )
    if discount_is_used(code):
        raise code_used()


def _checkout_actor(user: User) -> Actor:
    """Who attaches a learner at checkout and at the payment callback: the audit trail's actor."""
    return Actor(via=Via.CHECKOUT, user=user, name="checkout")


def _attach(user: User, seat: ContractSeat) -> None:
    """Attach the learner to the contract (membership source ``code``) unless attached."""
    if seat.attached:
        return
    membership_write(
        user,
        facts=seat.contract,
        source=ContractMembership.Source.CODE,
        actor=_checkout_actor(user),
    )
    seat.attached = seat.membership_created = True
