"""Enrollment codes: the adjustment rule of SPEC §4, its plan, and the codes CSV of SPEC §2.

Enrollment codes are ``ecommerce.Discount`` rows linked to the products of a contract's runs.
``codes_adjust`` brings them in line with the contract; it is the only writer of a contract's code
set besides courseware removal (which deactivates the codes of products taken off sale).
``codes_plan`` computes what ``codes_adjust`` would do, writing nothing (the ``--dry-run`` of the
commands). Both work product by product with set-based statements: the query count grows with
the products, and with the codes only through batches of at least ``BATCH_SIZE`` (SPEC §4.8).

The parts: ``report`` (plans and reports), ``rule`` (target, plan, adjustment), ``queue``
(asking for an adjustment) and ``export`` (the codes CSV); this package names what the rest
of the product calls.
"""

from b2b.services.codes.export import (
    CSV_HEADER,
    codes_csv_chunks,
    codes_csv_write,
    contract_codes_rows,
    product_url,
)
from b2b.services.codes.queue import (
    CodesAdjustment,
    codes_adjust_and_record,
    codes_adjust_queue,
    codes_adjustment_hint,
)
from b2b.services.codes.report import (
    ACTIONS,
    BATCH_SIZE,
    QUERIES_PER_PRODUCT,
    CodesProgress,
    CodesReport,
    ProductCodes,
    codes_plan_rows,
)
from b2b.services.codes.rule import (
    CodesTarget,
    codes_adjust,
    codes_deactivate_for_products,
    codes_plan,
    codes_target,
    codes_usable_by_product,
)

__all__ = [
    "ACTIONS",
    "BATCH_SIZE",
    "CSV_HEADER",
    "CodesAdjustment",
    "CodesProgress",
    "CodesReport",
    "CodesTarget",
    "ProductCodes",
    "QUERIES_PER_PRODUCT",
    "codes_adjust",
    "codes_adjust_and_record",
    "codes_adjust_queue",
    "codes_adjustment_hint",
    "codes_csv_chunks",
    "codes_csv_write",
    "codes_deactivate_for_products",
    "codes_plan",
    "codes_plan_rows",
    "codes_target",
    "codes_usable_by_product",
    "contract_codes_rows",
    "product_url",
]
