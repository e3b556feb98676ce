"""Products, enrollment codes (``Discount`` + ``DiscountProduct``), orders and redemptions."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from typing import Any

import factory

from b2b.services.codes import codes_target
from b2b.services.courseware import product_description
from courses.models import CourseRun
from ecommerce.models import Discount, DiscountProduct, DiscountRedemption, Order, Product
from tests.factories.accounts import UserFactory

ZERO = Decimal("0.00")


def _code(n: int) -> str:
    """A deterministic enrollment code in the product's form: a canonical lowercase UUID4."""
    return str(uuid.UUID(int=n, version=4))


class EnrollmentCodeFactory(factory.django.DjangoModelFactory):
    """A one-time code at 0.00, active, no dates; ``product=`` links it to a product."""

    class Meta:
        model = Discount
        skip_postgeneration_save = True

    discount_code = factory.Sequence(_code)
    amount = ZERO
    discount_type = Discount.DiscountType.FIXED_PRICE
    redemption_type = Discount.RedemptionType.ONE_TIME
    payment_type = Discount.PaymentType.SALES
    is_bulk = True
    is_active = True
    activation_date = None
    expiration_date = None

    @factory.post_generation
    def product(code: Discount, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not None:
            DiscountProduct.objects.create(discount=code, product=extracted)


# Codes made in bulk take their numbers from here: far above the factory's sequence, never equal.
_BULK_NUMBERS = itertools.count(1 << 64)


def enrollment_codes(product: Product, count: int, **fields: Any) -> list[Discount]:
    """``count`` codes linked to ``product``, with ``EnrollmentCodeFactory``'s defaults and
    ``fields``, inserted in bulk (codes, then links, by 1,000)."""
    model = EnrollmentCodeFactory.build(**fields)
    values = {
        f.attname: getattr(model, f.attname)
        for f in Discount._meta.concrete_fields
        if not f.primary_key and f.attname != "discount_code"
    }
    codes = Discount.objects.bulk_create(
        [Discount(discount_code=_code(next(_BULK_NUMBERS)), **values) for _ in range(count)],
        batch_size=1000,
    )
    DiscountProduct.objects.bulk_create(
        [DiscountProduct(discount=code, product=product) for code in codes], batch_size=1000
    )
    return codes


def codes_by_the_rule(product: Product) -> list[Discount]:
    """The codes SPEC §4 gives a new product of a contract run (``codes_target``, nobody has
    redeemed yet), at the contract's price and with its dates."""
    contract = product.course_run.b2b_contract
    target = codes_target(
        needs_codes=contract.needs_codes, cap=contract.max_learners, learners_redeemed=0
    )
    fields = {
        "amount": contract.price,
        "activation_date": contract.starts_at,
        "expiration_date": contract.ends_at,
    }
    if target.one_time:
        return enrollment_codes(product, target.one_time, **fields)
    if target.unlimited_min:
        return enrollment_codes(
            product,
            target.unlimited_min,
            redemption_type=Discount.RedemptionType.UNLIMITED,
            **fields,
        )
    return []


def _contract(product: Product) -> Any:
    return product.course_run.b2b_contract


class ProductFactory(factory.django.DjangoModelFactory):
    """A run's product: for a contract run, at the contract's price with its description and
    the codes SPEC §4 asks for (``codes=N``: N one-time codes instead; 0: none)."""

    class Meta:
        model = Product
        skip_postgeneration_save = True

    course_run = factory.SubFactory("tests.factories.b2b.ContractRunFactory", product=False)
    price = factory.LazyAttribute(
        lambda p: p.course_run.b2b_contract.price if p.course_run.b2b_contract else ZERO
    )
    description = factory.LazyAttribute(
        lambda p: (
            product_description(p.course_run.b2b_contract, p.course_run)
            if p.course_run.b2b_contract
            else f"{p.course_run.title} - {p.course_run.courseware_id}"
        )
    )
    is_active = True

    @factory.post_generation
    def codes(product: Product, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        if extracted is None:
            if product.course_run.b2b_contract_id is not None:
                codes_by_the_rule(product)
        elif extracted:
            enrollment_codes(product, extracted, **kwargs)


def run_product(run: CourseRun) -> Product:
    """The run's active product."""
    return Product.objects.get(course_run=run, is_active=True)


class OrderFactory(factory.django.DjangoModelFactory):
    """A fulfilled order of a new learner, nothing paid."""

    class Meta:
        model = Order

    purchaser = factory.SubFactory(UserFactory)
    state = Order.State.FULFILLED


class RedemptionFactory(factory.django.DjangoModelFactory):
    """A code used by a learner in a fulfilled order of theirs (as checkout records it)."""

    class Meta:
        model = DiscountRedemption

    redeemed_discount = factory.SubFactory(EnrollmentCodeFactory)
    redeemed_by = factory.SubFactory(UserFactory)
    redeemed_order = factory.SubFactory(
        OrderFactory, purchaser=factory.SelfAttribute("..redeemed_by")
    )
    is_one_time = factory.LazyAttribute(
        lambda r: r.redeemed_discount.redemption_type == Discount.RedemptionType.ONE_TIME
    )
