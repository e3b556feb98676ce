"""Helpers for the enrollment-code tests: contracts with two courses, redemptions, tallies."""

import datetime as dt
from collections import Counter

from b2b.models import ContractPage
from courses.models import Course
from ecommerce.models import Discount, DiscountRedemption, Product
from tests.factories import (
    ContractFactory,
    OrganizationFactory,
    RedemptionFactory,
    UserFactory,
    contract_runs,
)

DATA = "course-v1:MITxT+14.310x"
MICRO = "course-v1:MITxT+14.100x"


def contract_with_courses(
    integration_type: str,
    *,
    courses=(DATA, MICRO),
    max_learners: int | None = None,
    price: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> ContractPage:
    """Contract "Contract" of University X with a run of each course (its product and its codes),
    built by the factories: what ``b2b_contract create`` then ``b2b_courseware add`` leave."""
    contract = ContractFactory(
        organization=OrganizationFactory(name="University X", org_key="UX"),
        name="Contract",
        integration_type=integration_type,
        max_learners=max_learners,
        enrollment_fixed_price=price,
        contract_start=start,
        contract_end=end,
    )
    contract_runs(contract, *(Course.objects.get(readable_id=r) for r in courses))
    return contract


def product(contract: ContractPage, readable_id: str) -> Product:
    return Product.objects.get(
        course_run__b2b_contract=contract, course_run__course__readable_id=readable_id
    )


def modify(run_command, contract: ContractPage, *argv: str):
    return run_command("b2b_contract", "modify", str(contract.pk), *argv)


def tally(product: Product) -> dict[str, int]:
    """The product's codes counted by ``"<type> <active|inactive> <amount>"``."""
    product.refresh_from_db()
    counts = Counter(
        f"{c.redemption_type} {'active' if c.is_active else 'inactive'} {c.amount}"
        for c in Discount.objects.filter(product_links__product=product)
    )
    return dict(counts)


def codes(product: Product, **filters) -> list[Discount]:
    return list(Discount.objects.filter(product_links__product=product, **filters).order_by("pk"))


def redeem(code: Discount, learner=None) -> DiscountRedemption:
    """A fulfilled order that used ``code`` (as checkout records it)."""
    return RedemptionFactory(redeemed_discount=code, redeemed_by=learner or UserFactory())


def redemptions() -> list[dict]:
    return list(DiscountRedemption.objects.values().order_by("pk"))
