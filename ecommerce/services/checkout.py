"""Checkout, orders and the payment callback (SPEC §5).

``basket_checkout`` turns the learner's basket into an order, in one transaction:

- a zero total completes at once: the order is fulfilled, the learner enrolled (and, for a
  contract product, attached to the contract and the code redeemed), the basket emptied;
- a priced total makes a pending order, which holds the code (and the contract seat) until the
  gateway's signed callback (``payment_response_apply``) fulfils it, or declines or cancels it
  and frees them; checking out again while it waits reuses it;
- with payments not configured, a priced checkout refuses with ``payments-not-configured`` and
  writes nothing.

Contract products are decided by ``b2b.services.redemption.contract_checkout`` (seat, code,
enrollment and membership together, under the code and contract row locks). Lock order: basket,
code (in the statement that reads the basket's code), order, contract.

This is where the layers meet (ARCHITECTURE.md): this module and ``basket`` import
``b2b.services.redemption``, the one exception the import-linter layers contract names
(pyproject.toml). It is named rather than inverted through a registry of product rules that
``b2b`` fills at start-up: the call is the heart of this transaction, taken under the basket and
order locks, and the lock order can be checked only by reading what is called; a registry would
hold one implementation, and a start-up that failed to fill it would sell contract products by
the public rules. It makes no import cycle: nothing ``b2b.services.redemption`` imports reaches
back to the cart or checkout (``lint-imports`` checks it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from b2b.services.redemption import (
    contract_checkout,
    contract_order_complete,
    product_contract_id,
)
from courses.enrollments import UNREAD
from courses.exceptions import AlreadyEnrolled, RunNotEnrollable
from courses.models import CourseRunEnrollment
from ecommerce.exceptions import BasketEmpty, OrderNotFound
from ecommerce.models import (
    Basket,
    BasketDiscount,
    BasketItem,
    Discount,
    DiscountRedemption,
    Line,
    Order,
    Product,
    Transaction,
)
from ecommerce.services.basket import (
    basket_code_store,
    basket_discount,
    basket_item,
    payments_refusal,
)
from ecommerce.services.discounts import (
    ZERO,
    discount_check_generic,
    discount_find,
    discounted_price,
    redemption_record,
)
from ecommerce.services.payments import (
    ACCEPT,
    CANCEL,
    REVIEW,
    PaymentForm,
    PaymentResponse,
    order_payment_form,
    order_reference,
    payment_response_check,
    payment_response_read,
    payments_configured,
)
from ecommerce.services.receipts import ReceiptLine, order_receipt_queue
from main.exceptions import ConflictError
from main.models import User
from openedx.api import enrollment_enroll

log = logging.getLogger(__name__)

FULFILLED, PENDING = Order.State.FULFILLED, Order.State.PENDING


@dataclass
class CheckoutResult:
    """The order a checkout made (or reused), and for a pending one the form to pay it."""

    order: Order
    payment: PaymentForm | None
    reused: bool = False

    @property
    def status(self) -> str:
        return self.order.state


def basket_checkout(user: User, *, ip_address: str = "", code: str | None = None) -> CheckoutResult:
    """Check out the learner's basket (SPEC §5); see the module docstring for what happens.

    ``code``: the enrollment code typed, applied and checked out in the same transaction (what
    applying it, ``basket_code_apply``, then checking out does, in one request); it replaces any
    code the basket had. ``invalid-code`` for a text that names no code; refused, the basket
    keeps what it had. A pending order keeps the code on the basket, as applying it would.

    Refusals (nothing is written): ``basket-empty``, ``product-unavailable``,
    ``payments-not-configured``, and every refusal of the code and contract rules
    (``code-required``, ``code-not-for-product``, ``code-deactivated``, ``contract-inactive``,
    ``already-enrolled``, ``code-used``, ``contract-full``). A concurrent checkout that loses a
    race on a unique constraint is refused the same way: the writer whose statement collided
    says which (``redemption_record``: ``code-used``; the enrollment writer:
    ``already-enrolled``); any other collision is ``checkout-conflict``.
    """
    try:
        with transaction.atomic():
            return _checkout(user, ip_address, code)
    except IntegrityError as exc:
        log.warning("Checkout lost a race: %s", exc)
        raise ConflictError(
            "Your enrollment changed while you were checking out: reload the cart and try again.",
            code="checkout-conflict",
        ) from exc


def _checkout(user: User, ip_address: str, code: str | None) -> CheckoutResult:
    item = basket_item(user, for_update=True)  # the basket's row lock serialises the learner
    if item is None:
        raise BasketEmpty(
            "Your basket is empty: open the product link you were given to add the course."
        )
    basket, product = item.basket, item.product
    # The code's lock, after the basket's (in the same statement as finding it).
    if code is None:
        discount = basket_discount(basket.pk, for_update=True)
    else:
        discount = discount_find(code, for_update=True)
    contract_id = product_contract_id(product)
    total = discounted_price(product.price, discount)
    if total > ZERO and not payments_configured():
        raise payments_refusal(code_applied=discount is not None)
    if code is not None and discount is not None and total > ZERO:
        # A pending order: the basket shows the code the order holds.
        basket_code_store(basket.pk, discount)

    complete = total == ZERO
    if not complete:
        # A pending order of the same product is reused, or ended if the code changed. (A zero
        # total never reuses one, a pending order being priced: ``_complete`` ends it.)
        pending = _pending_order_for(user, product)
        if pending is not None:
            held = list(pending.discount_redemptions.values_list("redeemed_discount_id", flat=True))
            if held == ([discount.pk] if discount else []) and pending.total_price_paid == total:
                return CheckoutResult(
                    pending, order_payment_form(pending, ip_address=ip_address), reused=True
                )
            _release(pending, Order.State.CANCELED)  # the learner changed the code: free the old

    # A zero total completes in this transaction: the order is made fulfilled (a refusal below
    # rolls it back with everything else).
    order = Order.objects.create(
        purchaser=user, state=FULFILLED if complete else PENDING, total_price_paid=total
    )
    Line.objects.create(
        order=order, product=product, quantity=1, unit_price=product.price, discounted_price=total
    )
    if complete:
        # Before the contract lock (less time holding it): a refusal below rolls both back.
        _complete(basket, product, user)
        receipt = ReceiptLine(
            title=product.course_run.title,
            organization=item.organization_name or "",  # type: ignore[attr-defined]
            amount=total,
        )
        order_receipt_queue(order, new=True, lines=[receipt])
    if contract_id is not None:
        contract_checkout(
            user,
            product=product,
            discount=discount,
            order=order,
            complete=complete,
            locked=True,
            # Read with the basket (``basket_item``): None when it found none.
            enrollment=None if item.enrollment_id is None else UNREAD,  # type: ignore[attr-defined]
        )
    else:
        _checkout_public(user, product=product, discount=discount, order=order, complete=complete)
    if complete:
        return CheckoutResult(order, None)
    order.reference_number = order_reference(order.pk)
    order.save(update_fields=["reference_number", "updated_on"])
    return CheckoutResult(order, order_payment_form(order, ip_address=ip_address))


def _pending_order_for(user: User, product: Product) -> Order | None:
    return (
        Order.objects.filter(purchaser=user, state=PENDING, lines__product=product)
        .order_by("-pk")
        .first()
    )


def _checkout_public(
    user: User,
    *,
    product: Product,
    discount: Discount | None,
    order: Order,
    complete: bool,
) -> None:
    """A product outside any contract: the code's own rules, then the enrollment if complete."""
    run = product.course_run
    if CourseRunEnrollment.objects.filter(user=user, run=run, active=True).exists():
        raise AlreadyEnrolled(f"You are already enrolled in {run.title}.")
    if discount is not None:
        code = Discount.objects.select_for_update().get(pk=discount.pk)
        discount_check_generic(code, product=product, user=user, at=timezone.now())
        redemption_record(code, user=user, order_id=order.pk)
    if complete:
        _enroll_public(user, product)


def _enroll_public(user: User, product: Product) -> CourseRunEnrollment:
    run = product.course_run
    if run.is_b2b:  # never: contract products go through the contract rules
        raise RunNotEnrollable(f"{run.courseware_id} is a contract run.")
    return enrollment_enroll(user, run=run).enrollment


# The basket emptied of a product: its item, then, if the item was there, the basket's code.
_ITEM_DELETE = """item AS (
  DELETE FROM ecommerce_basketitem WHERE basket_id = %s AND product_id = %s RETURNING basket_id
)"""
_CODE_DELETE = (
    "DELETE FROM ecommerce_basketdiscount WHERE basket_id IN (SELECT basket_id FROM item)"
)
#: ``_empty`` on PostgreSQL: the item and the basket's code, in one statement.
_EMPTY_SQL = f"WITH {_ITEM_DELETE} {_CODE_DELETE}"
#: ``_complete`` on PostgreSQL: what ``_EMPTY_SQL`` does, and what ``_release`` does to the
#: learner's orders of the product still awaiting payment (canceled, their codes freed), in one
#: statement.
_COMPLETE_SQL = f"""WITH {_ITEM_DELETE}, code AS ({_CODE_DELETE}), ended AS (
  UPDATE ecommerce_order SET state = %s, updated_on = %s
  WHERE purchaser_id = %s AND state = %s
    AND id IN (SELECT order_id FROM ecommerce_line WHERE product_id = %s)
  RETURNING id
)
DELETE FROM ecommerce_discountredemption WHERE redeemed_order_id IN (SELECT id FROM ended)"""


def _empty(basket: Basket, product: Product) -> None:
    """Take the bought product (and its code) out of the basket; anything else stays. One
    statement on PostgreSQL (two elsewhere)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_EMPTY_SQL, [basket.pk, product.pk])
    elif BasketItem.objects.filter(basket=basket, product=product).delete()[0]:
        BasketDiscount.objects.filter(basket=basket).delete()


def _complete(basket: Basket, product: Product, user: User) -> None:
    """A zero-total checkout of ``product``: empty the basket of it (``_empty``) and end the
    learner's orders of it that await payment (canceled, their codes and seats freed, as
    ``_release`` does: the learner got the course with another code). One statement on
    PostgreSQL, taking the order locks after the basket's and the code's (the lock order)."""
    if connection.vendor != "postgresql":
        _empty(basket, product)
        for order in Order.objects.filter(purchaser=user, state=PENDING, lines__product=product):
            _release(order, Order.State.CANCELED)
        return
    ended, pending = Order.State.CANCELED.value, PENDING.value
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPLETE_SQL,
            [basket.pk, product.pk, ended, timezone.now(), user.pk, pending, product.pk],
        )


def _release(order: Order, state: str) -> int:
    """End a pending order without payment: free its codes (and so its seat). Returns how many
    codes were freed; an order no longer pending is left alone (0)."""
    if not Order.objects.filter(pk=order.pk, state=PENDING).update(
        state=state, updated_on=timezone.now()
    ):
        return 0
    order.state = state
    return DiscountRedemption.objects.filter(redeemed_order=order).delete()[0]


# -- orders ----------------------------------------------------------------------------------


def order_get(user: User, order_id: int) -> Order:
    """One of the learner's orders; ``OrderNotFound`` for anyone else's (no existence leak)."""
    order = Order.objects.filter(pk=order_id, purchaser=user).first()
    if order is None:
        raise OrderNotFound(f"You have no order {order_id}.")
    return order


# -- the payment callback ----------------------------------------------------------------------


@dataclass
class PaymentOutcome:
    """What a gateway response did: the order (its new state), the decision, and whether the
    order changed (a repeated post changes nothing)."""

    order: Order
    decision: str
    changed: bool


def payment_response_apply(fields: Mapping[str, str]) -> PaymentOutcome:
    """Apply a gateway response to its order, exactly once (SPEC §5).

    The response is verified first (``payment_response_read``: signed by the gateway, not a
    request; ``payment_response_check``: the order's exact amount and currency); a response that
    fails raises ``InvalidPaymentResponse`` and changes nothing, and ``OrderNotFound`` is raised
    for an order unknown here. Then: ``ACCEPT``: the order is fulfilled (learner enrolled,
    attached, code redeemed for good) and the bought product leaves the basket. ``DECLINE`` /
    ``ERROR``: the order is declined; ``CANCEL``: canceled; both free the code and the seat.
    ``REVIEW``: the order stays pending (the gateway posts the final decision later). The
    response is recorded as a ``Transaction`` (its signed fields) once per gateway transaction
    ID. A response for an order no longer pending changes nothing (an accepted payment for an
    order that was canceled is logged as an error for an operator to refund).
    """
    response = payment_response_read(fields)
    purchaser_id = (
        Order.objects.filter(pk=response.order_id).values_list("purchaser_id", flat=True).first()
    )
    if purchaser_id is None:
        raise OrderNotFound(f"The payment response names order {response.order_id}, unknown here.")
    with transaction.atomic():
        basket = Basket.objects.select_for_update().filter(user_id=purchaser_id).first()
        order = (
            Order.objects.select_for_update().select_related("purchaser").get(pk=response.order_id)
        )
        payment_response_check(response, order)  # raises before anything is written
        _record(order, response)
        changed = False
        if order.state != PENDING:
            if response.decision == ACCEPT and order.state != FULFILLED:
                log.error(
                    "Payment %s accepted for order %s, which is %s: refund it.",
                    response.transaction_id,
                    order.pk,
                    order.state,
                )
        elif response.decision == ACCEPT:
            changed = _fulfil_paid(order, basket)
        elif response.decision == REVIEW:
            log.info("Payment for order %s is under review: the order stays pending.", order.pk)
        else:
            state = Order.State.CANCELED if response.decision == CANCEL else Order.State.DECLINED
            freed = _release(order, state)
            changed = True
            log.info("Order %s %s by the gateway; %s code(s) freed.", order.pk, state, freed)
    return PaymentOutcome(order=order, decision=response.decision, changed=changed)


def _fulfil_paid(order: Order, basket: Basket | None) -> bool:
    lines = list(order.lines.select_related("product__course_run").order_by("pk"))
    if any(line.product.course_run.is_b2b for line in lines):
        contract_order_complete(order)
    for line in lines:
        if not line.product.course_run.is_b2b:
            _enroll_public(order.purchaser, line.product)
    order.state = FULFILLED
    order.save(update_fields=["state", "updated_on"])
    order_receipt_queue(order)
    if basket is not None:
        for line in lines:
            _empty(basket, line.product)
    return True


def _record(order: Order, response: PaymentResponse) -> None:
    if Transaction.objects.filter(transaction_id=response.transaction_id).exists():
        return
    Transaction.objects.create(
        order=order,
        transaction_id=response.transaction_id,
        decision=response.decision,
        amount=response.amount,
        data=response.fields,
    )
