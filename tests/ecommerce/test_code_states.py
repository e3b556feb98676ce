"""Codes by state, each defined once: ``Discount.objects.usable()`` / ``.redeemed()`` and the
expressions behind them (``code_usable``, ``code_redeemed``), and the one writer of redemptions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count

from ecommerce.exceptions import CodeUsed
from ecommerce.models import (
    Discount,
    DiscountProduct,
    DiscountRedemption,
    Order,
    Product,
    code_usable,
)
from ecommerce.services.discounts import redemption_record
from tests.factories import CourseRunFactory, UserFactory

pytestmark = pytest.mark.django_db

ONE_TIME, UNLIMITED = Discount.RedemptionType.ONE_TIME, Discount.RedemptionType.UNLIMITED


def code(name: str, product: Product, *, kind: str = ONE_TIME, active: bool = True) -> Discount:
    discount = Discount.objects.create(
        discount_code=name,
        amount=Decimal("0.00"),
        discount_type=Discount.DiscountType.FIXED_PRICE,
        redemption_type=kind,
        payment_type=Discount.PaymentType.SALES,
        is_bulk=True,
        is_active=active,
    )
    DiscountProduct.objects.create(discount=discount, product=product)
    return discount


def redeem(discount: Discount, user) -> DiscountRedemption:
    order = Order.objects.create(purchaser=user, state=Order.State.FULFILLED)
    return redemption_record(discount, user=user, order_id=order.pk)


@pytest.fixture
def codes():
    """One code in each state, on one product."""
    product = Product.objects.create(
        course_run=CourseRunFactory(), price=Decimal("10.00"), description="P"
    )
    made = {
        "fresh": code("fresh", product),
        "used": code("used", product),
        "pending": code("pending", product),
        "unlimited": code("unlimited", product, kind=UNLIMITED),
        "unlimited-used": code("unlimited-used", product, kind=UNLIMITED),
        "off": code("off", product, active=False),
        "off-used": code("off-used", product, active=False),
    }
    learner = UserFactory(username="ada")
    for name in ("used", "unlimited-used", "off-used"):
        redeem(made[name], learner)
    # held by an order awaiting its payment: redeemed, so not usable
    pending = Order.objects.create(purchaser=learner, state=Order.State.PENDING)
    redemption_record(made["pending"], user=learner, order_id=pending.pk)
    return product, made


def names(queryset) -> set[str]:
    return set(queryset.values_list("discount_code", flat=True))


def test_usable_codes_are_active_and_unlimited_or_never_redeemed(codes):
    assert names(Discount.objects.usable()) == {"fresh", "unlimited", "unlimited-used"}


def test_redeemed_codes_have_a_redemption_whatever_else(codes):
    assert names(Discount.objects.redeemed()) == {"used", "pending", "unlimited-used", "off-used"}


def test_the_states_chain_after_any_filter(codes):
    assert names(Discount.objects.filter(redemption_type=UNLIMITED).usable().redeemed()) == {
        "unlimited-used"
    }


def test_counts_over_links_read_the_same_definition(codes):
    product, _ = codes
    counted = (
        DiscountProduct.objects.filter(product=product)
        .values("product_id")
        .annotate(n=Count("pk", filter=code_usable("discount__")))
        .order_by()
        .get()
    )
    assert counted == {"product_id": product.pk, "n": 3}


def test_a_second_redemption_of_a_one_time_code_is_refused_by_its_writer(codes):
    _, made = codes
    other = UserFactory(username="bob")
    order = Order.objects.create(purchaser=other, state=Order.State.PENDING)
    with transaction.atomic(), pytest.raises(CodeUsed) as refusal:
        redemption_record(made["used"], user=other, order_id=order.pk)
    assert (refusal.value.code, refusal.value.message) == (
        "code-used",
        "This enrollment code has just been used by someone else.",
    )
    assert DiscountRedemption.objects.filter(redeemed_discount=made["used"]).count() == 1
