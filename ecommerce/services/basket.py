"""The learner's basket: one product and at most one code (SPEC §5).

``basket_replace`` is what the Product URL does (empty the basket, add the product);
``basket_code_apply`` applies a code after checking it as checkout will; ``basket_summary`` is
what the cart shows, including whether checkout is possible now and, if not, the refusal that
stands in the way (its stable code and message).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from b2b.services.redemption import contract_code_check, product_contract, product_contract_id
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.exceptions import BasketEmpty, PaymentsNotConfigured, ProductNotFound
from ecommerce.models import Basket, BasketDiscount, BasketItem, Discount, Product
from ecommerce.services.discounts import (
    ZERO,
    discount_check_generic,
    discount_find,
    discounted_price,
)
from ecommerce.services.payments import payments_configured
from main.compiled import compiled_first
from main.exceptions import DomainError
from main.models import User


@dataclass
class BasketSummary:
    """What the cart shows. Money is Decimal with 2 places.

    ``blocker`` is the refusal checkout would give now (None: checkout is possible);
    ``code_needed`` is false only for a learner who needs no code (attached to the
    contract) or for a product outside contracts.
    """

    product: Product | None
    run: CourseRun | None
    discount: Discount | None
    price: Decimal
    total: Decimal
    contract_name: str | None
    organization_name: str | None
    code_needed: bool
    blocker: DomainError | None

    @property
    def is_empty(self) -> bool:
        return self.product is None

    @property
    def can_checkout(self) -> bool:
        return self.product is not None and self.blocker is None

    @property
    def needs_payment(self) -> bool:
        return self.total > ZERO


def _items(user_id: int, *, for_update: bool) -> QuerySet[BasketItem]:
    # The organization a contract product comes through, for the receipt: a subquery on the
    # contract and organization tables (Wagtail's page table stays out of it). As two outer joins
    # it made PostgreSQL's planning of this statement 3 to 6 times longer (2 ms, not 0.3-0.6).
    organization = (
        CourseRun.objects.filter(pk=OuterRef("product__course_run"))
        .order_by()
        .values("b2b_contract__organization__name")
    )
    queryset = BasketItem.objects.annotate(organization_name=Subquery(organization[:1]))
    if for_update:
        enrollment = CourseRunEnrollment.objects.filter(
            user_id=user_id, run=OuterRef("product__course_run")
        )
        queryset = (
            queryset.select_related("basket", "product__course_run")
            .annotate(enrollment_id=Subquery(enrollment.values("pk")[:1]))
            # The basket's row first, then the item's (the lock order: the payment callback and
            # basket_replace lock the basket, then delete its items; item first deadlocked).
            .select_for_update(of=("basket", "self"))
        )
    else:
        queryset = queryset.select_related("basket", "product__course_run__course")
    return queryset.filter(basket__user_id=user_id).order_by("pk")


def _checkout_items(user: int) -> QuerySet[BasketItem]:
    return _items(user, for_update=True)


def basket_item(user: User, *, for_update: bool = False) -> BasketItem | None:
    """The learner's basket item with its basket, product, run and course (one query), or None
    for an empty basket; ``organization_name``: the organization of the product's contract
    (None outside contracts).

    ``for_update`` (checkout's first lock) locks the basket and item rows, so a checkout that
    waited for another one of the same learner then sees the item gone. It leaves out the course
    (checkout does not read it) and reads in the same statement ``enrollment_id``, the learner's
    enrollment in the product's run (None: none), which checkout would otherwise ask for later.
    That is read with the snapshot taken before the lock was granted, which is safe for it
    alone: the learner's own checkouts and payment callbacks enroll under this lock and take the
    item out of the basket in the same transaction (a checkout that waited then finds no item),
    and an enrollment another path creates meanwhile trips its unique constraint. (Not so for
    the learner's pending orders: a priced checkout leaves the item in the basket, so they are
    read after the lock.) Its query is built once per process (``main.compiled``)."""
    if for_update:
        return compiled_first(_checkout_items, user=user.pk)
    return _items(user.pk, for_update=False).first()


def basket_discount(basket_id: int, *, for_update: bool = False) -> Discount | None:
    """The code applied to the basket, or None (one query). ``for_update`` locks the code's row
    in the same statement (checkout, after the basket's lock: the lock order is basket, code,
    contract); ``b2b.services.redemption`` then reads its use in a statement of its own."""
    queryset = BasketDiscount.objects.select_related("discount")
    if for_update:
        queryset = queryset.select_for_update(of=("discount",))
    applied = queryset.filter(basket_id=basket_id).first()
    return applied.discount if applied else None


def basket_replace(user: User, *, product_id: int) -> Basket:
    """Empty the learner's basket (product and code) and put ``product_id`` in it (SPEC §5).

    Raises ``ProductNotFound`` for an unknown ID and ``ProductUnavailable`` for a product off
    sale; the basket is then left as it was.
    """
    product = Product.objects.select_related("course_run").filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(
            "This course link leads to no course: open it exactly as you were given it, or ask "
            "the organization that gave it to you for a new one."
        )
    product_contract(product)  # refuses a product off sale
    with transaction.atomic():
        basket, _ = Basket.objects.get_or_create(user=user)
        basket = Basket.objects.select_for_update().get(pk=basket.pk)
        BasketDiscount.objects.filter(basket=basket).delete()
        BasketItem.objects.filter(basket=basket).delete()
        BasketItem.objects.create(basket=basket, product=product)
        basket.save(update_fields=["updated_on"])
    return basket


def _check(
    user: User, product: Product, discount: Discount | None
) -> tuple[bool, str | None, str | None]:
    """Check the basket as checkout will (without locks); returns (code needed, contract name,
    organization name). Raises the refusal that applies."""
    if product_contract_id(product) is None:
        if discount is not None:
            discount_check_generic(discount, product=product, user=user, at=timezone.now())
        return False, None, None
    check = contract_code_check(user, product=product, discount=discount)
    return check.needs_code, check.contract.name, check.contract.organization_name


def basket_code_apply(user: User, *, code: str) -> BasketSummary:
    """Apply a code to the learner's basket: case-insensitive, spaces trimmed (SPEC §5).

    The code must name a code (``invalid-code``) and pass every check checkout will make for the
    basket's product (``code-not-for-product``, ``code-deactivated``, ``contract-inactive``,
    ``already-enrolled``, ``code-used``, ``contract-full``...). Refused, the basket keeps what it
    had. Applied, it replaces any code applied before. ``basket-empty`` without a product.
    """
    item = basket_item(user)
    if item is None:
        raise BasketEmpty(
            "Your basket is empty: open the product link you were given, then apply the code."
        )
    discount = discount_find(code, user=user, product=item.product)
    checked = _check(user, item.product, discount)
    basket_code_store(item.basket_id, discount)
    return _summary(item.product, discount, checked, None)


def basket_code_store(basket_id: int, discount: Discount) -> None:
    """Put ``discount`` on the basket, replacing whatever code it had (it holds one at most):
    one statement. The caller has checked the code."""
    BasketDiscount.objects.bulk_create(
        [BasketDiscount(basket_id=basket_id, discount=discount, applied_on=timezone.now())],
        update_conflicts=True,
        unique_fields=["basket"],
        update_fields=["discount", "applied_on"],
    )


def basket_code_remove(user: User) -> BasketSummary:
    """Take the applied code off the learner's basket (nothing to remove: nothing changes)."""
    BasketDiscount.objects.filter(basket__user=user).delete()
    return basket_summary(user)


def basket_summary(user: User) -> BasketSummary:
    """What the cart shows: product, run, code, price, total, and what blocks checkout."""
    item = basket_item(user)
    if item is None:
        return BasketSummary(None, None, None, ZERO, ZERO, None, None, False, None)
    product, discount = item.product, basket_discount(item.basket_id)
    try:
        checked = _check(user, product, discount)
    except DomainError as refusal:
        contract = product.course_run.b2b_contract if product.course_run.is_b2b else None
        names = (contract.name, contract.organization.name) if contract else (None, None)
        return _summary(product, discount, (True, *names), refusal)
    return _summary(product, discount, checked, None)


def _summary(
    product: Product,
    discount: Discount | None,
    checked: tuple[bool, str | None, str | None],
    blocker: DomainError | None,
) -> BasketSummary:
    total = discounted_price(product.price, discount)
    if blocker is None and total > ZERO and not payments_configured():
        blocker = payments_refusal(code_applied=discount is not None)
    code_needed, contract_name, organization_name = checked
    return BasketSummary(
        product=product,
        run=product.course_run,
        discount=discount,
        price=product.price,
        total=total,
        contract_name=contract_name,
        organization_name=organization_name,
        code_needed=code_needed,
        blocker=blocker,
    )


def payments_refusal(*, code_applied: bool) -> PaymentsNotConfigured:
    """The refusal of a priced checkout while payments are not configured (SPEC §5); it speaks
    of the code only when one is applied (a contract's member needs none)."""
    unused = " and your code stays unused" if code_applied else ""
    return PaymentsNotConfigured(
        "Payments are not available on this site yet, so this course cannot be bought now: "
        f"nothing was charged{unused}. Try again later."
    )
