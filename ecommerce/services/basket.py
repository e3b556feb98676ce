"""The learner's basket: one product and at most one code (SPEC §5).

``basket_replace`` is what the Product URL does (empty the basket, add the product);
``basket_code_apply`` applies a code after checking it as checkout will; ``basket_summary`` is
what the cart shows, including whether checkout is possible now and, if not, the refusal that
stands in the way (its stable code and message).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from b2b.services.redemption import contract_code_check, product_contract
from courses.models import CourseRun
from ecommerce.exceptions import BasketEmpty, PaymentsNotConfigured, ProductNotFound
from ecommerce.models import Basket, BasketDiscount, BasketItem, Discount, Product
from ecommerce.services.discounts import (
    ZERO,
    discount_check_generic,
    discount_find,
    discounted_price,
)
from ecommerce.services.payments import payments_configured
from main.exceptions import DomainError


@dataclass
class BasketSummary:
    """What the cart shows. Money is Decimal with 2 places.

    ``blocker`` is the refusal checkout would give now (None: checkout is possible);
    ``code_needed`` is false only for a learner who needs no code (attached to a free SSO
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


def _load(user: AbstractBaseUser, *, for_update: bool = False) -> Basket | None:
    queryset = Basket.objects.filter(user=user)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.first()


def basket_contents(basket: Basket | None) -> tuple[Product | None, Discount | None]:
    """The basket's product (with its run loaded) and its applied code (two queries)."""
    if basket is None:
        return None, None
    item = basket.items.select_related("product__course_run__course").first()
    applied = basket.discounts.select_related("discount").first()
    return (item.product if item else None), (applied.discount if applied else None)


def basket_replace(user: AbstractBaseUser, *, product_id: int) -> Basket:
    """Empty the learner's basket (product and code) and put ``product_id`` in it (SPEC §5).

    Raises ``ProductNotFound`` for an unknown ID and ``ProductUnavailable`` for a product off
    sale; the basket is then left as it was.
    """
    product = Product.objects.select_related("course_run").filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(
            f"There is no product {product_id}: check the link you were given (it ends with "
            "/cart/add/?product_id=<number>)."
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
    user: AbstractBaseUser, product: Product, discount: Discount | None
) -> tuple[bool, str | None, str | None]:
    """Check the basket as checkout will (without locks); returns (code needed, contract name,
    organization name). Raises the refusal that applies."""
    contract = product_contract(product)
    if contract is None:
        if discount is not None:
            discount_check_generic(discount, product=product, user=user, at=timezone.now())
        return False, None, None
    check = contract_code_check(user, product=product, discount=discount)
    return check.needs_code, contract.name, contract.organization.name


def basket_code_apply(user: AbstractBaseUser, *, code: str) -> BasketSummary:
    """Apply a code to the learner's basket: case-insensitive, spaces trimmed (SPEC §5).

    The code must name a code (``invalid-code``) and pass every check checkout will make for the
    basket's product (``code-not-for-product``, ``code-deactivated``, ``contract-inactive``,
    ``already-enrolled``, ``code-used``, ``contract-full``...). Refused, the basket keeps what it
    had. Applied, it replaces any code applied before. ``basket-empty`` without a product.
    """
    with transaction.atomic():
        basket = _load(user, for_update=True)
        product, _ = basket_contents(basket)
        if basket is None or product is None:
            raise BasketEmpty(
                "Your basket is empty: open the product link you were given, then apply the code."
            )
        discount = discount_find(code)
        _check(user, product, discount)
        BasketDiscount.objects.filter(basket=basket).delete()
        BasketDiscount.objects.create(basket=basket, discount=discount)
    return basket_summary(user)


def basket_code_remove(user: AbstractBaseUser) -> BasketSummary:
    """Take the applied code off the learner's basket (nothing to remove: nothing changes)."""
    BasketDiscount.objects.filter(basket__user=user).delete()
    return basket_summary(user)


def basket_summary(user: AbstractBaseUser) -> BasketSummary:
    """What the cart shows: product, run, code, price, total, and what blocks checkout."""
    product, discount = basket_contents(_load(user))
    if product is None:
        return BasketSummary(None, None, None, ZERO, ZERO, None, None, False, None)
    total = discounted_price(product.price, discount)
    code_needed, contract_name, organization_name = True, None, None
    blocker: DomainError | None = None
    try:
        code_needed, contract_name, organization_name = _check(user, product, discount)
        if total > ZERO and not payments_configured():
            raise payments_refusal()
    except DomainError as refusal:
        blocker = refusal
        if contract_name is None and product.course_run.b2b_contract_id is not None:
            contract = product.course_run.b2b_contract
            contract_name, organization_name = contract.name, contract.organization.name
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


def payments_refusal() -> PaymentsNotConfigured:
    return PaymentsNotConfigured(
        "Payments are not available on this site yet, so this course cannot be bought now: "
        "nothing was charged and your code stays unused. Try again later."
    )
