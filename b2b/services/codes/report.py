"""What a code adjustment plans and does, product by product (``CodesReport``), how its progress
is reported (``CodesProgress``), and its batch sizes (SPEC §4.8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ecommerce.models import (
    Discount,
)

#: SPEC §4.8's B: codes per INSERT / UPDATE batch and per fetch when streaming (≥ 5,000).
BATCH_SIZE = 5_000
#: SPEC §4.8's a: the most statements the adjustment spends per product (the benchmark checks).
QUERIES_PER_PRODUCT = 8

ONE_TIME = Discount.RedemptionType.ONE_TIME
UNLIMITED = Discount.RedemptionType.UNLIMITED

#: The actions of an adjustment, in the order it performs them (progress and plans use these).
ACTIONS = ("delete", "deactivate", "convert", "create", "reprice")


class CodesProgress(Protocol):
    """Receives an adjustment's progress: the plan first, then counts of codes as they are done."""

    def start(self, plan: CodesReport) -> None: ...

    def advance(self, action: str, count: int) -> None: ...

    def finish(self, report: CodesReport) -> None: ...


@dataclass
class ProductCodes:
    """What the adjustment did (or would do) to one product and its codes; counts of codes.

    ``repriced`` counts usable codes whose amount or dates change (SPEC §4.6, §1).
    ``product_id`` is None for a product a dry run would create.
    """

    product_id: int | None
    description: str
    price_before: Decimal
    price_after: Decimal
    created: int = 0
    created_type: str = ""
    deactivated: int = 0
    converted: int = 0
    deleted: int = 0
    repriced: int = 0
    usable_after: int = 0
    learners_redeemed: int = 0
    new_product: bool = False
    product_deactivated: bool = False
    # The part of ``deactivated`` that is unlimited codes left from an uncapped past (§4.5).
    deactivated_unlimited: int = field(default=0, repr=False)

    @property
    def product_repriced(self) -> bool:
        return self.price_before != self.price_after

    @property
    def changed(self) -> bool:
        return bool(
            self.product_repriced
            or self.created
            or self.deactivated
            or self.converted
            or self.deleted
            or self.repriced
            or self.new_product
            or self.product_deactivated
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: prices as 2-decimal strings."""
        return {
            "product_id": self.product_id,
            "description": self.description,
            "new_product": self.new_product,
            "product_deactivated": self.product_deactivated,
            "price_before": f"{self.price_before:.2f}",
            "price_after": f"{self.price_after:.2f}",
            "product_repriced": self.product_repriced,
            "create": self.created,
            "create_type": self.created_type or None,
            "deactivate": self.deactivated,
            "convert": self.converted,
            "reprice": self.repriced,
            "delete": self.deleted,
            "learners_redeemed": self.learners_redeemed,
            "usable_after": self.usable_after,
        }


@dataclass
class CodesReport:
    """The adjustment of one contract's codes, product by product (SPEC §4).

    With ``dry_run`` it is a plan: what ``codes_adjust`` would do to the current data.
    """

    contract_id: int
    needs_codes: bool
    max_learners: int | None
    price: Decimal
    learners: int = 0
    products: list[ProductCodes] = field(default_factory=list)
    dry_run: bool = False

    @property
    def over_cap(self) -> bool:
        """More learners than the cap: attached, or redeemed on one product (never refused)."""
        if self.max_learners is None:
            return False
        return self.learners > self.max_learners or any(
            p.learners_redeemed > self.max_learners for p in self.products
        )

    def total(self, name: str) -> int:
        return sum(getattr(p, name) for p in self.products)

    @property
    def changed(self) -> bool:
        return any(p.changed for p in self.products)

    @property
    def products_repriced(self) -> list[ProductCodes]:
        return [p for p in self.products if p.product_repriced]

    def action_totals(self) -> dict[str, int]:
        """Codes per action (``ACTIONS``) over all products."""
        names = {
            "delete": "deleted",
            "deactivate": "deactivated",
            "convert": "converted",
            "create": "created",
            "reprice": "repriced",
        }
        return {action: self.total(names[action]) for action in ACTIONS}

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"contract {self.contract_id}: {self.total('created')} codes {verb}created, "
            f"{self.total('deactivated')} {verb}deactivated, {self.total('converted')} {verb}made "
            f"unlimited, {self.total('deleted')} {verb}deleted, {self.total('repriced')} "
            f"{verb}re-priced/re-dated, {len(self.products_repriced)} products {verb}re-priced; "
            f"{self.total('usable_after')} usable"
            + (" — OVER ITS LEARNER CAP" if self.over_cap else "")
        )

    def as_dict(self) -> dict[str, Any]:
        """The plan or report as one JSON-ready object."""
        return {
            "contract_id": self.contract_id,
            "needs_codes": self.needs_codes,
            "max_learners": self.max_learners,
            "price": f"{self.price:.2f}",
            "learners": self.learners,
            "over_cap": self.over_cap,
            "totals": {
                **self.action_totals(),
                "products_repriced": len(self.products_repriced),
                "usable_after": self.total("usable_after"),
            },
            "products": [p.as_dict() for p in self.products],
        }


def codes_plan_rows(plan: CodesReport) -> list[dict[str, Any]]:
    """The plan (or report) as rows for people, one per product: ``product`` (with "(new
    product)" / "(product taken off sale)"), ``price`` ("10.00" or "10.00 → 12.00"), ``create``
    ("5 one-time" or "0"), ``deactivate``, ``convert``, ``reprice``, ``delete``, ``usable_after``
    (counts of codes). What ``--dry-run`` prints and the staff pages show (SPEC §4)."""
    rows = []
    for item in plan.products:
        product = item.description
        if item.new_product:
            product += " (new product)"
        if item.product_deactivated:
            product += " (product taken off sale)"
        price = f"{item.price_before:.2f}"
        if item.product_repriced:
            price += f" → {item.price_after:.2f}"
        create = f"{item.created} {item.created_type}" if item.created else "0"
        rows.append(
            {
                "product": product,
                "price": price,
                "create": create,
                "deactivate": item.deactivated,
                "convert": item.converted,
                "reprice": item.repriced,
                "delete": item.deleted,
                "usable_after": item.usable_after,
            }
        )
    return rows
