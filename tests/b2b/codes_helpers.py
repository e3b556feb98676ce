"""Helpers for the enrollment-code tests: contracts with two courses, redemptions, tallies."""

from collections import Counter

from b2b.models import ContractPage
from ecommerce.models import Discount, DiscountRedemption, Order, Product
from tests.b2b.helpers import make_contract
from tests.factories import UserFactory

DATA = "course-v1:MITxT+14.310x"
MICRO = "course-v1:MITxT+14.100x"


def contract_with_courses(run_command, *argv: str, courses=(DATA, MICRO)) -> ContractPage:
    """``b2b_contract create`` with ``argv``, then ``b2b_courseware add`` each course."""
    contract = make_contract(run_command, "Contract", *argv)
    for readable_id in courses:
        run_command("b2b_courseware", "add", str(contract.pk), readable_id)
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
    learner = learner or UserFactory()
    order = Order.objects.create(purchaser=learner, state=Order.State.FULFILLED)
    return DiscountRedemption.objects.create(
        redeemed_discount=code,
        redeemed_by=learner,
        redeemed_order=order,
        is_one_time=code.redemption_type == Discount.RedemptionType.ONE_TIME,
    )


def redemptions() -> list[dict]:
    return list(DiscountRedemption.objects.values().order_by("pk"))
