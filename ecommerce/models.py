"""What the cart sells and how it is discounted: products, discounts (enrollment codes), orders.

Enrollment codes are discounts (the source document): a ``Discount`` whose ``discount_code`` is a
UUID4, fixed-price, payment type ``sales``, ``is_bulk``, linked to exactly one ``Product``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower

from courses.models import CourseRun


class _Money(TypedDict):
    max_digits: int
    decimal_places: int


#: Every amount of money: up to 99,999.99, in cents (Decimal with 2 places).
MONEY: _Money = {"max_digits": 7, "decimal_places": 2}


class Product(models.Model):
    """A course run on sale at ``price`` (Decimal, 2 places). One active product per run."""

    course_run = models.ForeignKey(CourseRun, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.00"))])
    description = models.CharField(max_length=512)
    is_active = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course_run"],
                condition=Q(is_active=True),
                name="product_one_active_per_run",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.description


def code_redeemed(prefix: str = "") -> Exists:
    """True for a code with at least one redemption: "redeemed" (SPEC §4, §7), the one definition.

    ``prefix`` is the path from the queried model to the code (``""`` on ``Discount``,
    ``"discount__"`` on ``DiscountProduct``), so grouped counts over links say the same thing.
    """
    return Exists(DiscountRedemption.objects.filter(redeemed_discount=OuterRef(f"{prefix}pk")))


def code_usable(prefix: str = "") -> Q:
    """True for a usable code: active, and unlimited or never redeemed (SPEC §4.5–4.7, §5), the
    one definition. ``prefix`` as for ``code_redeemed``. A one-time code held by an order awaiting
    its payment is redeemed (its redemption exists), so not usable."""
    return Q(**{f"{prefix}is_active": True}) & (
        Q(**{f"{prefix}redemption_type": Discount.RedemptionType.UNLIMITED})
        | Q(~code_redeemed(prefix))
    )


class DiscountQuerySet(models.QuerySet["Discount"]):
    """``Discount.objects``: codes by state, each state defined once (``code_usable``,
    ``code_redeemed``); chainable after any filter, one statement."""

    def usable(self) -> DiscountQuerySet:
        """Codes a learner can still use: active, and unlimited or never redeemed."""
        return self.filter(code_usable())

    def redeemed(self) -> DiscountQuerySet:
        """Codes with at least one redemption (an unlimited one may be usable as well)."""
        return self.filter(code_redeemed())


class Discount(models.Model):
    """A discount code. Enrollment codes are fixed-price, ``sales``, bulk discounts.

    ``is_active`` false means deactivated: never redeemable again, never exported (SPEC §4.7).
    ``activation_date`` / ``expiration_date`` bound when it can be used (null: unbounded).
    """

    class DiscountType(models.TextChoices):
        PERCENT_OFF = "percent-off"
        DOLLARS_OFF = "dollars-off"
        FIXED_PRICE = "fixed-price"

    class RedemptionType(models.TextChoices):
        ONE_TIME = "one-time"
        ONE_TIME_PER_USER = "one-time-per-user"
        UNLIMITED = "unlimited"

    class PaymentType(models.TextChoices):
        MARKETING = "marketing"
        SALES = "sales"
        FINANCIAL_ASSISTANCE = "financial-assistance"
        CUSTOMER_SUPPORT = "customer-support"
        STAFF = "staff"

    # Unique through ``discount_code_ci_unique`` (on ``Lower``) alone: a second unique index on the
    # raw value, and its pattern-ops twin, would only slow every write of 500,000-code contracts.
    discount_code = models.CharField(max_length=100)
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.00"))])
    discount_type = models.CharField(max_length=30, choices=DiscountType.choices)
    redemption_type = models.CharField(max_length=30, choices=RedemptionType.choices)
    payment_type = models.CharField(max_length=30, choices=PaymentType.choices)
    is_bulk = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    activation_date = models.DateTimeField(null=True, blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    objects = DiscountQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="discount_amount_not_negative"),
            # Codes are applied case-insensitively (SPEC §5): two codes differing only in case
            # would be ambiguous. The index behind it serves the lookup by ``Lower(code)``.
            models.UniqueConstraint(Lower("discount_code"), name="discount_code_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.discount_code


class DiscountProduct(models.Model):
    """Links a discount to a product it applies to (an enrollment code has exactly one)."""

    # ``discountproduct_unique`` leads with ``discount``: it is the index for lookups by code.
    discount = models.ForeignKey(
        Discount, on_delete=models.CASCADE, related_name="product_links", db_index=False
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="discount_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["discount", "product"], name="discountproduct_unique"),
        ]

    def __str__(self) -> str:
        return f"discount {self.discount_id} on product {self.product_id}"


class Order(models.Model):
    """A learner's purchase. ``total_price_paid`` is what they pay (Decimal, 2 places).

    ``pending`` while the payment gateway has it; ``fulfilled`` once paid (or at once for a zero
    total); ``declined`` / ``canceled`` when the payment did not happen (its codes are freed).
    ``reference_number`` is what the payment gateway knows the order by.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        FULFILLED = "fulfilled"
        CANCELED = "canceled"
        DECLINED = "declined"
        REFUNDED = "refunded"

    purchaser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    total_price_paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    reference_number = models.CharField(max_length=255, blank=True, default="")
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Pending orders are few and looked up at every checkout (reuse, seats held).
            models.Index(
                fields=["purchaser"],
                condition=Q(state="pending"),
                name="order_pending_by_purchaser",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.state})"


class Line(models.Model):
    """One product on an order, with the prices that held when it was bought."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lines")
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(**MONEY)
    discounted_price = models.DecimalField(**MONEY)

    def __str__(self) -> str:
        return f"order {self.order_id}: product {self.product_id} × {self.quantity}"


class DiscountRedemption(models.Model):
    """A code used on an order, or to join its contract (``redeemed_order`` null: ``/join/``,
    SPEC §5). A one-time code has at most one (a unique constraint holds it): one budget per code
    across joining and checkout."""

    redeemed_discount = models.ForeignKey(
        Discount, on_delete=models.PROTECT, related_name="redemptions"
    )
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="discount_redemptions"
    )
    redeemed_order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        related_name="discount_redemptions",
        null=True,
        blank=True,
        help_text="The order the code was used on; empty when it was used to join its contract.",
    )
    is_one_time = models.BooleanField(
        help_text="The code was one-time when redeemed; backs the one-redemption constraint."
    )
    redemption_date = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["redeemed_discount"],
                condition=Q(is_one_time=True),
                name="redemption_one_per_one_time_code",
            ),
            models.UniqueConstraint(
                fields=["redeemed_discount", "redeemed_by"], name="redemption_one_per_user_code"
            ),
        ]

    def __str__(self) -> str:
        return f"discount {self.redeemed_discount_id} by user {self.redeemed_by_id} " + (
            f"on order {self.redeemed_order_id}" if self.redeemed_order_id else "to join"
        )


class Basket(models.Model):
    """A learner's basket: at most one product (the Product URL empties it first, SPEC §5)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="basket"
    )
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Basket of {self.user}"


class BasketItem(models.Model):
    """The product in a basket."""

    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["basket"], name="basketitem_one_per_basket"),
        ]

    def __str__(self) -> str:
        return f"{self.product} in {self.basket}"


class BasketDiscount(models.Model):
    """The code applied to a basket.

    The code adjustment deletes unredeemed codes in bulk with plain SQL (SPEC §4.3), so no
    database constraint ties this row to its code: a row whose code is gone is simply not found
    (``select_related`` joins it away) and the basket has no code any more.
    """

    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="discounts")
    discount = models.ForeignKey(
        Discount, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    applied_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["basket"], name="basketdiscount_one_per_basket"),
        ]

    def __str__(self) -> str:
        return f"{self.discount} on {self.basket}"


class Transaction(models.Model):
    """What the payment gateway said about an order (the signed callback's fields, as sent)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="transactions")
    transaction_id = models.CharField(max_length=255, blank=True, default="")
    decision = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    data = models.JSONField(default=dict)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The browser's receipt post and the gateway's back-office post carry the same
            # transaction: it is recorded once.
            models.UniqueConstraint(
                fields=["transaction_id"],
                condition=~Q(transaction_id=""),
                name="transaction_unique_gateway_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.transaction_id} for order {self.order_id}"
