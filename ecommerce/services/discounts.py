"""Discount codes as the cart sees them: finding one by its text, what it does to a price, and the
rules every code obeys whatever it is for (SPEC §5).

Enrollment codes (codes of contract products) obey these and the contract's rules on top; those
are decided in ``b2b.services.redemption``, the one place where seats and codes meet.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Lower

from ecommerce.exceptions import (
    CodeDeactivated,
    CodeExpired,
    CodeNotForProduct,
    CodeUsed,
    InvalidCode,
)
from ecommerce.models import (
    Discount,
    DiscountProduct,
    DiscountRedemption,
    Product,
    code_redeemed,
)
from main.compiled import compiled_first
from main.models import User

CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
#: The longest text accepted as a code (``Discount.discount_code`` holds 100 characters).
MAX_CODE_LENGTH = 100


def code_normalize(text: str | None) -> str:
    """A code as typed, made comparable: surrounding spaces trimmed, lower case (SPEC §5)."""
    return (text or "").strip().lower()


def discount_with_use(
    queryset: QuerySet[Discount], *, user: User, product: Product | None
) -> QuerySet[Discount]:
    """Annotate codes with ``used_by_anyone`` (redeemed: ``code_redeemed``), ``used_by_user``
    (this learner) and ``linked`` (to ``product``; true when no product is given), read in the
    same statement."""
    redemptions = DiscountRedemption.objects.filter(redeemed_discount=OuterRef("pk"))
    linked = (
        Exists(DiscountProduct.objects.filter(discount=OuterRef("pk"), product=product))
        if product is not None
        else Value(True)
    )
    return queryset.annotate(
        used_by_anyone=code_redeemed(),
        used_by_user=Exists(redemptions.filter(redeemed_by=user)),
        linked=linked,
    )


def _use_of(pk: int, user: int, product: int) -> QuerySet[Discount]:
    return discount_with_use(
        Discount.objects.filter(pk=pk), user=User(pk=user), product=Product(pk=product)
    )


def discount_use_read(discount_id: int, *, user: User, product: Product | None) -> Discount | None:
    """One code by its ID, annotated by ``discount_with_use``, or None when it is gone. With a
    product its query is built once per process (``main.compiled``: checkout's path)."""
    if product is None:
        return discount_with_use(
            Discount.objects.filter(pk=discount_id), user=user, product=None
        ).first()
    return compiled_first(_use_of, pk=discount_id, user=user.pk, product=product.pk)


def discount_is_linked(discount: Discount) -> bool:
    """For a code annotated by ``discount_with_use``: linked to the product asked about."""
    return bool(discount.linked)  # type: ignore[attr-defined]


def discount_is_used(discount: Discount) -> bool:
    """For a code annotated by ``discount_with_use``: a one-time code used by anyone, any other
    code used by this learner."""
    if discount.redemption_type == Discount.RedemptionType.ONE_TIME:
        return bool(discount.used_by_anyone)  # type: ignore[attr-defined]
    return bool(discount.used_by_user)  # type: ignore[attr-defined]


def discount_find(
    text: str | None,
    *,
    user: User | None = None,
    product: Product | None = None,
    for_update: bool = False,
) -> Discount:
    """The code with this text, compared case-insensitively with spaces trimmed (SPEC §5).

    One indexed query (the ``discount_code_ci_unique`` index); with ``user`` the code comes
    annotated by ``discount_with_use`` in the same query. ``for_update`` (without ``user``: its
    use must be read by a statement after the lock) locks the code's row. Raises
    ``InvalidCode`` for an empty text or one that names no code.
    """
    code = code_normalize(text)
    if not code:
        raise InvalidCode("Enter the enrollment code you were given.")
    # A NUL character is in no code, and PostgreSQL refuses it in a text parameter.
    if len(code) > MAX_CODE_LENGTH or "\x00" in code:
        raise InvalidCode("That is not an enrollment code: check it and type it again.")
    queryset: QuerySet[Discount] = Discount.objects.alias(code_ci=Lower("discount_code")).filter(
        code_ci=code
    )
    if user is not None:
        queryset = discount_with_use(queryset, user=user, product=product)
    elif for_update:
        queryset = queryset.select_for_update(of=("self",))
    discount = queryset.first()
    if discount is None:
        raise InvalidCode(
            f"“{code}” is not a valid enrollment code: check it against the one you were given."
        )
    return discount


def discounted_price(price: Decimal, discount: Discount | None) -> Decimal:
    """What one unit costs with the code: never below 0.00, rounded half up to cents.

    fixed-price: the code's amount; dollars-off: price − amount; percent-off: price × (100 −
    amount) / 100. No code: the price.
    """
    if discount is None:
        result = price
    elif discount.discount_type == Discount.DiscountType.FIXED_PRICE:
        result = discount.amount
    elif discount.discount_type == Discount.DiscountType.DOLLARS_OFF:
        result = price - discount.amount
    else:
        result = price * (Decimal(100) - discount.amount) / Decimal(100)
    return max(ZERO, Decimal(result)).quantize(CENTS, rounding=ROUND_HALF_UP)


def discount_in_dates(discount: Discount, at: dt.datetime) -> bool:
    """``at`` is within the code's activation and expiration dates (either may be open)."""
    return (discount.activation_date is None or discount.activation_date <= at) and (
        discount.expiration_date is None or at <= discount.expiration_date
    )


def discount_is_for(discount: Discount, product: Product) -> bool:
    """The code is linked to the product (one query)."""
    return DiscountProduct.objects.filter(discount=discount, product=product).exists()


def code_not_for_product() -> CodeNotForProduct:
    return CodeNotForProduct(
        "This enrollment code is for another course: open the link that came with it, or "
        "check that you typed the code for this course."
    )


def code_used() -> CodeUsed:
    return CodeUsed(
        "This enrollment code has already been used: each code admits one learner. Ask the "
        "organization that gave it to you for another."
    )


def discount_check_for_product(discount: Discount, product: Product) -> None:
    """Refuse a code linked to another product (``code-not-for-product``)."""
    if not discount_is_for(discount, product):
        raise code_not_for_product()


def discount_check_active(discount: Discount) -> None:
    """Refuse a deactivated code (``code-deactivated``)."""
    if not discount.is_active:
        raise CodeDeactivated(
            "This enrollment code has been deactivated: ask the organization that gave it to you "
            "for a new one."
        )


def discount_check_unused(discount: Discount, user: User) -> None:
    """Refuse a code this learner already used, or a one-time code anyone used (``code-used``).

    Two indexed queries at most. Under the code's row lock this is exact; the unique constraints
    on redemptions back it anyway.
    """
    if discount.redemption_type == Discount.RedemptionType.ONE_TIME:
        used = Discount.objects.filter(pk=discount.pk).redeemed().exists()
    else:
        used = DiscountRedemption.objects.filter(
            redeemed_discount=discount, redeemed_by=user
        ).exists()
    if used:
        raise code_used()


def discount_check_generic(
    discount: Discount, *, product: Product, user: User, at: dt.datetime
) -> None:
    """The rules of a code for a product outside any contract: linked, active, in its dates,
    unused. Raises the first refusal that applies."""
    discount_check_for_product(discount, product)
    discount_check_active(discount)
    if not discount_in_dates(discount, at):
        raise CodeExpired("This code is not valid at this time: check the dates it came with.")
    discount_check_unused(discount, user)


def redemption_record(
    discount: Discount, *, user: User, order_id: int | None
) -> DiscountRedemption:
    """Record the code as used on an order (held while the order waits for its payment), or with
    ``order_id`` None to join its contract (``/join/``): the one writer of redemptions.

    Call it under the code's row lock, after the code's rules. Should a redemption of the same
    one-time code, or of the same code by the same learner, commit first anyway, the unique
    constraints refuse this one: ``CodeUsed``, identified by the statement that failed (no
    message text is read). That statement ran in the caller's atomic block, which Django then
    marks for rollback: the refusal ends the caller's transaction.
    """
    try:
        with transaction.atomic(savepoint=False):
            return DiscountRedemption.objects.create(
                redeemed_discount=discount,
                redeemed_by=user,
                redeemed_order_id=order_id,
                is_one_time=discount.redemption_type == Discount.RedemptionType.ONE_TIME,
            )
    except IntegrityError:
        raise CodeUsed("This enrollment code has just been used by someone else.") from None
