"""A courseware change tried and rolled back, with the code adjustment it would ask for
(``--dry-run``, and the staff pages' plan before a change)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from b2b.services.codes import (
    ProductCodes,
    codes_plan,
    codes_usable_by_product,
)
from b2b.services.contracts import contract_get
from b2b.services.courseware.results import CoursewareChangeResult
from ecommerce.models import Product


def courseware_dry_run(
    contract_id: int, change: Callable[[], CoursewareChangeResult]
) -> CoursewareChangeResult:
    """Make the change in a transaction, plan the code adjustment it would queue, roll back.

    The plan lists every product the contract has before or after: products taken off sale with
    their usable codes deactivated (SPEC §2 ``remove``), new products (``product_id`` None), and
    what ``codes_plan`` says for the rest. Nothing is written and nothing is queued.
    """
    with transaction.atomic():
        contract = contract_get(contract_id)
        before = {
            p.pk: p
            for p in Product.objects.filter(course_run__b2b_contract=contract, is_active=True)
        }
        usable_before = codes_usable_by_product(list(before))
        result = change()
        plan = None
        if result.changed:
            plan = codes_plan(contract_get(contract_id))
            for item in plan.products:
                if item.product_id not in before:
                    item.product_id, item.new_product = None, True
            still = {p.product_id for p in plan.products}
            for pk, product in before.items():
                if pk not in still:
                    plan.products.append(
                        ProductCodes(
                            pk,
                            product.description,
                            price_before=product.price,
                            price_after=product.price,
                            deactivated=usable_before.get(pk, 0),
                            product_deactivated=True,
                        )
                    )
        transaction.set_rollback(True)
    result.dry_run, result.plan = True, plan
    result.message = f"Dry run, nothing changed. The real run would report: {result.message}"
    return result
