"""Enrollment codes: the adjustment rule of SPEC §4, its plan, and the codes CSV of SPEC §2.

Enrollment codes are ``ecommerce.Discount`` rows linked to the products of a contract's runs.
``codes_adjust`` brings them in line with the contract; it is the only writer of a contract's code
set besides courseware removal (which deactivates the codes of products taken off sale).
``codes_plan`` computes what ``codes_adjust`` would do, writing nothing (the ``--dry-run`` of the
commands). Both work product by product with set-based statements: the query count grows with
the products, and with the codes only through batches of at least ``BATCH_SIZE`` (SPEC §4.8).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from b2b.models import ContractMembership, ContractPage, SeatAssignmentCode
from b2b.services.audit import codes_adjusted_record
from b2b.services.codes_pending import (
    codes_pending_clear,
    codes_pending_mark,
    codes_pending_request,
)
from b2b.services.codes_store import (
    codes_insert,
    codes_lock,
    lockable,
    raw_execute,
    subquery_sql,
)
from ecommerce.models import (
    Discount,
    DiscountProduct,
    DiscountQuerySet,
    DiscountRedemption,
    Product,
    code_redeemed,
    code_usable,
)
from main.actors import Via, acting_as
from main.exports import csv_writer, private_file

log = logging.getLogger(__name__)

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


# -- asking for an adjustment ---------------------------------------------------------------------


@dataclass
class CodesAdjustment:
    """An adjustment asked for by ``codes_adjust_queue``, sent once the transaction commits.

    With a broker, the Celery worker runs it (``b2b.tasks.contract_codes_adjust``) and ``report``
    stays None. Without one (the embedded default: Celery eager) it runs in this process right
    after the commit, as every task does there: ``progress``, set by whoever asked before the
    commit, receives its plan and counts, and ``report`` is what it did, for the command that
    asked to show. A rolled-back transaction sends nothing.
    """

    contract_id: int
    progress: CodesProgress | None = None
    report: CodesReport | None = None

    def send(self) -> None:
        from b2b.tasks import contract_codes_adjust  # the task module imports this one

        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.report = codes_adjust_and_record(self.contract_id, progress=self.progress)
        else:
            contract_codes_adjust.delay(self.contract_id)


def codes_adjust_queue(contract: ContractPage) -> CodesAdjustment:
    """Ask for ``codes_adjust`` for the contract once the current transaction commits: the one
    function that asks (SPEC §4). A change asks once: contract changes through
    ``contracts.contract_changed``, courseware changes and code deactivations in their service.
    Returns the request (see ``CodesAdjustment``).

    First it marks the contract's codes as needing adjustment in this same transaction
    (``codes_pending_mark``): should the task never run — the process dies before the commit
    reaches the broker, a worker dies mid-adjustment — the periodic re-queue finds the marker
    (ARCHITECTURE rule 12). Two requests in one transaction leave one marker."""
    codes_pending_mark(contract.pk)
    adjustment = CodesAdjustment(contract.pk)
    transaction.on_commit(adjustment.send)
    return adjustment


def codes_adjust_and_record(
    contract_id: int, *, progress: CodesProgress | None = None
) -> CodesReport:
    """Run ``codes_adjust`` and record the run in the contract's audit trail, acting as the task
    ``contract_codes_adjust`` (the task's body, wherever it runs). Returns the report."""
    with acting_as(Via.TASK, name="task contract_codes_adjust"):
        report = codes_adjust(contract_id, progress=progress)
        with transaction.atomic():
            codes_adjusted_record(report)
    return report


def codes_adjustment_hint(contract_id: int) -> str:
    """A line for the operator on where the code adjustment ran (eager) or went (a worker)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return (
            f"Enrollment codes adjusted; `manage.py b2b_list courseware --contract {contract_id}` "
            "shows the counts."
        )
    return "The enrollment-code adjustment is queued for the Celery worker."


# -- the rule ------------------------------------------------------------------------------------


def _codes_of(product_id: int) -> DiscountQuerySet:
    return Discount.objects.filter(product_links__product_id=product_id)


def _usable_one_time(product_id: int) -> DiscountQuerySet:
    return _codes_of(product_id).usable().filter(redemption_type=ONE_TIME)


def _current(contract: ContractPage, prefix: str = "") -> Q:
    """Codes that already carry the contract's price and dates (SPEC §4.6, §1)."""
    activation, expiration = contract.starts_at, contract.ends_at
    current = Q(**{f"{prefix}amount": contract.price})
    current &= (
        Q(**{f"{prefix}activation_date": activation})
        if activation
        else Q(**{f"{prefix}activation_date__isnull": True})
    )
    current &= (
        Q(**{f"{prefix}expiration_date": expiration})
        if expiration
        else Q(**{f"{prefix}expiration_date__isnull": True})
    )
    return current


def _contract_products(contract: ContractPage) -> list[Product]:
    return list(
        Product.objects.filter(course_run__b2b_contract=contract, is_active=True).order_by("pk")
    )


@dataclass(frozen=True)
class CodesTarget:
    """What SPEC §4 asks of one product's usable codes once the adjustment has run.

    ``one_time``: the exact number of usable one-time codes (None: any number is right);
    ``unlimited_min`` / ``unlimited_max``: the bounds on usable unlimited codes (max None:
    unbounded); ``unredeemed_max``: the most unredeemed codes, active or not (None: unbounded).
    """

    one_time: int | None
    unlimited_min: int
    unlimited_max: int | None
    unredeemed_max: int | None


def codes_target(*, needs_codes: bool, cap: int | None, learners_redeemed: int) -> CodesTarget:
    """The rule of SPEC §4.3–4.5 for one product, as numbers; pure (no queries).

    ``learners_redeemed`` is the number of learners with a redemption on the product. Used by the
    adjustment's plan and by ``b2b_check``, so both read the rule the same way.
    """
    if not needs_codes and cap is None:
        # 3. Not needed, uncapped: no unredeemed code; redeemed unlimited ones may stay usable.
        return CodesTarget(one_time=0, unlimited_min=0, unlimited_max=None, unredeemed_max=0)
    if not needs_codes:
        # 3. Not needed, capped: none created, existing ones left as they are.
        return CodesTarget(one_time=None, unlimited_min=0, unlimited_max=None, unredeemed_max=None)
    if cap is None:
        # 4. Needed, uncapped: no usable one-time code, at least one usable unlimited code.
        return CodesTarget(one_time=0, unlimited_min=1, unlimited_max=None, unredeemed_max=None)
    # 5. Needed, capped at N: usable one-time codes + learners redeemed = N; no unlimited code.
    return CodesTarget(
        one_time=max(0, cap - learners_redeemed),
        unlimited_min=0,
        unlimited_max=0,
        unredeemed_max=None,
    )


def _plan(contract: ContractPage, products: list[Product]) -> CodesReport:
    """What the rule asks of each product, from a fixed number of grouped queries plus at most
    one per product (SPEC §4)."""
    price, cap = contract.price, contract.max_learners
    report = CodesReport(
        contract.pk,
        needs_codes=contract.needs_codes,
        max_learners=cap,
        price=price,
        learners=ContractMembership.objects.filter(contract_id=contract.pk).count(),
        dry_run=True,
    )
    if not products:
        return report
    ids = [p.pk for p in products]
    stale = ~_current(contract, "discount__")
    active, one_time, unlimited = (
        Q(discount__is_active=True),
        Q(discount__redemption_type=ONE_TIME),
        Q(discount__redemption_type=UNLIMITED),
    )
    u1 = active & one_time & Q(redeemed=False)
    au = active & unlimited
    stats = {
        row["product_id"]: row
        for row in DiscountProduct.objects.filter(product_id__in=ids)
        .alias(redeemed=code_redeemed("discount__"))
        .values("product_id")
        .annotate(
            u1=Count("pk", filter=u1),
            au=Count("pk", filter=au),
            au_redeemed=Count("pk", filter=au & Q(redeemed=True)),
            unredeemed=Count("pk", filter=Q(redeemed=False)),
            stale_u1=Count("pk", filter=u1 & stale),
            stale_au=Count("pk", filter=au & stale),
            stale_au_redeemed=Count("pk", filter=au & Q(redeemed=True) & stale),
        )
        .order_by()
    }
    learners = {
        row["product_id"]: row["learners"]
        for row in DiscountRedemption.objects.filter(
            redeemed_discount__product_links__product_id__in=ids
        )
        .values(product_id=F("redeemed_discount__product_links__product_id"))
        .annotate(learners=Count("redeemed_by", distinct=True))
        .order_by()
    }
    empty = dict.fromkeys(
        ("u1", "au", "au_redeemed", "unredeemed", "stale_u1", "stale_au", "stale_au_redeemed"), 0
    )
    for product in products:
        row = stats.get(product.pk, empty)
        item = ProductCodes(
            product.pk,
            product.description,
            price_before=product.price,
            price_after=price,
            learners_redeemed=learners.get(product.pk, 0),
        )
        report.products.append(item)
        if not contract.needs_codes and cap is None:
            # 3. Not needed, uncapped: unredeemed codes go; redeemed unlimited ones stay usable.
            item.deleted = row["unredeemed"]
            item.repriced = row["stale_au_redeemed"]
            item.usable_after = row["au_redeemed"]
        elif not contract.needs_codes:
            # 3. Not needed, capped: none created, existing ones left (and kept current, §4.6).
            item.repriced = row["stale_u1"] + row["stale_au"]
            item.usable_after = row["u1"] + row["au"]
        elif cap is None:
            # 4. Needed, uncapped: one-time codes become unlimited; one code where none is usable.
            item.converted = row["u1"]
            if row["u1"] + row["au"] == 0:
                item.created, item.created_type = 1, UNLIMITED
            item.repriced = row["stale_u1"] + row["stale_au"]
            item.usable_after = row["u1"] + row["au"] + item.created
        else:
            # 5. Needed, capped at N: usable one-time codes + learners redeemed = N.
            target = codes_target(
                needs_codes=True, cap=cap, learners_redeemed=item.learners_redeemed
            ).one_time
            assert target is not None
            surplus = max(0, row["u1"] - target)
            item.deactivated_unlimited = row["au"]
            item.deactivated = row["au"] + surplus
            if row["u1"] < target:
                item.created, item.created_type = target - row["u1"], ONE_TIME
            stale_leaving = 0
            if surplus and row["stale_u1"]:
                newest = _usable_one_time(product.pk).order_by("-pk").values("pk")[:surplus]
                stale_leaving = (
                    Discount.objects.filter(pk__in=newest).exclude(_current(contract)).count()
                )
            item.repriced = row["stale_u1"] - stale_leaving
            item.usable_after = target
    return report


def codes_plan(contract: ContractPage) -> CodesReport:
    """What ``codes_adjust`` would do to the contract's products and codes now, writing nothing.

    ``contract`` may carry unsaved changes (a ``modify --dry-run``): the plan follows its
    fields. Returns a ``CodesReport`` with ``dry_run`` set; barring other changes in between,
    ``codes_adjust`` then reports the same numbers (SPEC §2 ``--dry-run``).
    """
    return _plan(contract, _contract_products(contract))


def codes_adjust(contract_id: int, *, progress: CodesProgress | None = None) -> CodesReport:
    """Bring a contract's products and enrollment codes in line with it (SPEC §4).

    1. Products follow the contract price.
    2. Codes are needed for ``non-sso`` contracts and for priced ``sso`` ones.
    3. Not needed and uncapped: unredeemed codes are deleted (the only deletion); not needed and
       capped: none created, existing ones left.
    4. Needed and uncapped: usable one-time codes become unlimited; a product with no usable code
       gets one unlimited code.
    5. Needed and capped at N: per product, usable one-time codes + learners with a redemption on
       it = N; missing ones are created, surplus unredeemed ones deactivated newest first (never a
       redeemed one); active unlimited codes are deactivated. A cap below the learners already
       redeemed leaves no usable code and the report says the contract is over its cap;
       redemptions are never touched.
    6. Usable codes carry the contract price and its dates (activation 00:00 of the start,
       expiration 23:59:59 of the end, in ``TIME_ZONE``).

    When done it clears the contract's marker (``codes_pending``), unless a change asked for
    another adjustment while it ran: that one keeps the marker and runs next.

    Serialised per contract by its own lock (``codes_lock``; never the contract row, so checkout
    goes on), idempotent: every step is computed from the current state, so a second run, or a
    run after one cut short, completes the work and changes nothing more. On PostgreSQL each step
    commits on its own (codes are created in transactions of ``CREATE_BATCH``), so checkouts wait
    for one product's statement at most. Queries: a fixed number, at most
    ``QUERIES_PER_PRODUCT`` per product, and one per ``BATCH_SIZE`` codes created (SPEC §4.8).

    ``progress`` receives the plan and the counts as they are done. A contract that no longer
    exists is reported with no products (the task may arrive after a deletion). Returns what was
    done, product by product.
    """
    with codes_lock(contract_id):
        # Read before the contract: a change committed from here on keeps the marker.
        request = codes_pending_request(contract_id)
        contract = ContractPage.objects.filter(pk=contract_id).first()
        if contract is None:
            return CodesReport(
                contract_id, needs_codes=False, max_learners=None, price=Decimal("0.00")
            )
        products = _contract_products(contract)
        report = _plan(contract, products)
        if progress:
            progress.start(report)
        _apply(contract, products, report, progress)
        codes_pending_clear(contract_id, request)
    report.dry_run = False
    if progress:
        progress.finish(report)
    level = (
        logging.WARNING if report.over_cap else logging.INFO if report.changed else logging.DEBUG
    )
    log.log(level, "Enrollment codes adjusted for %s", report.summary())
    return report


def _apply(
    contract: ContractPage,
    products: list[Product],
    report: CodesReport,
    progress: CodesProgress | None,
) -> None:
    """Carry out the plan, product by product; the counts become what the statements did."""
    price, activation, expiration = contract.price, contract.starts_at, contract.ends_at
    now = timezone.now
    if report.products_repriced:  # 1. Product prices.
        Product.objects.filter(pk__in=[p.product_id for p in report.products_repriced]).update(
            price=price, updated_on=now()
        )

    def advance(action: str, count: int) -> None:
        if progress and count:
            progress.advance(action, count)

    for product, item in zip(products, report.products, strict=True):
        codes = _codes_of(product.pk)
        if item.deleted:
            item.deleted = _delete_unredeemed(product.pk)
            advance("delete", item.deleted)
        deactivated = 0
        if item.deactivated_unlimited:
            deactivated += codes.filter(is_active=True, redemption_type=UNLIMITED).update(
                is_active=False, updated_on=now()
            )
        surplus = item.deactivated - item.deactivated_unlimited
        if surplus:
            with transaction.atomic():
                # Codes held for a seat assigned by email (SPEC §9) go last, newest first.
                held = Exists(
                    SeatAssignmentCode.objects.filter(
                        discount_id=OuterRef("pk"), assignment__status="open"
                    )
                )
                newest = lockable(
                    _usable_one_time(product.pk).annotate(held=held).order_by("held", "-pk")
                ).values("pk")[:surplus]
                deactivated += Discount.objects.filter(pk__in=newest).update(
                    is_active=False, updated_on=now()
                )
        if item.deactivated:
            item.deactivated = deactivated
            advance("deactivate", deactivated)
        if item.converted:
            item.converted = _usable_one_time(product.pk).update(
                redemption_type=UNLIMITED, updated_on=now()
            )
            advance("convert", item.converted)
        if item.created:
            item.created = codes_insert(
                product.pk,
                item.created,
                redemption_type=item.created_type,
                amount=price,
                activation=activation,
                expiration=expiration,
                on_batch=lambda size: advance("create", size),
            )
        if item.repriced:
            stale = codes.usable().exclude(_current(contract))
            item.repriced = Discount.objects.filter(pk__in=stale.values("pk")).update(
                amount=price,
                activation_date=activation,
                expiration_date=expiration,
                updated_on=now(),
            )
            advance("reprice", item.repriced)


def _delete_unredeemed(product_id: int) -> int:
    """Delete the product's unredeemed codes and their links (SPEC §4.3, the only deletion).

    Two statements in one transaction: the codes, then their links (the foreign key is checked
    at commit). Codes a checkout holds right now are left for the next run.
    """
    discount = Discount._meta.db_table
    link = DiscountProduct._meta.db_table
    with transaction.atomic():
        doomed = lockable(_codes_of(product_id).exclude(code_redeemed()))
        sql, params = subquery_sql(doomed.values("pk"))
        deleted = raw_execute(f"DELETE FROM {discount} WHERE id IN ({sql})", params)
        raw_execute(
            f"DELETE FROM {link} WHERE product_id = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {discount} d WHERE d.id = {link}.discount_id)",
            [product_id],
        )
    return deleted


def codes_deactivate_for_products(product_ids: list[int]) -> int:
    """Deactivate the usable codes of products taken off sale; redeemed one-time codes and all
    redemptions stay as they are. Returns how many codes were deactivated."""
    if not product_ids:
        return 0
    doomed = Discount.objects.filter(product_links__product_id__in=product_ids).usable()
    return Discount.objects.filter(pk__in=doomed.values("pk")).update(
        is_active=False, updated_on=timezone.now()
    )


def codes_usable_by_product(product_ids: list[int]) -> dict[int, int]:
    """Usable codes per product (products with none are left out); one query."""
    if not product_ids:
        return {}
    rows = (
        DiscountProduct.objects.filter(product_id__in=product_ids)
        .values("product_id")
        .annotate(n=Count("pk", filter=code_usable("discount__")))
        .order_by()
    )
    return {row["product_id"]: row["n"] for row in rows if row["n"]}


# -- the codes CSV (SPEC §2) -------------------------------------------------------------------


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


CSV_HEADER = ("Code", "Product", "Redeemed", "Product URL")


def product_url(product_id: int) -> str:
    """The URL that empties a learner's basket and puts this product in it (SPEC §2, §5)."""
    return f"{settings.SITE_BASE_URL}/cart/add/?product_id={product_id}"


def contract_codes_rows(contract: ContractPage) -> Iterator[tuple[str, str, str, str]]:
    """The CSV's rows, streamed in chunks: one per active code of the contract's products."""
    rows = (
        DiscountProduct.objects.filter(
            product__course_run__b2b_contract=contract,
            product__is_active=True,
            discount__is_active=True,
        )
        .annotate(redeemed=code_redeemed("discount__"))
        .order_by("product_id", "discount_id")
        .values_list("discount__discount_code", "product_id", "product__description", "redeemed")
    )
    urls: dict[int, str] = {}
    for code, product_id, description, redeemed in rows.iterator(chunk_size=BATCH_SIZE):
        url = urls.get(product_id) or urls.setdefault(product_id, product_url(product_id))
        yield code, description, "Yes" if redeemed else "No", url


def codes_csv_chunks(contract: ContractPage, *, rows: list[int] | None = None) -> Iterator[str]:
    """The contract's codes CSV as text chunks (the header, then up to ``BATCH_SIZE`` rows a
    chunk): for a streamed download, and what ``codes_csv_write`` writes, so both are the same
    bytes once encoded as UTF-8. Cells a spreadsheet would evaluate are neutralised
    (``main.exports.csv_writer``). ``rows``, if given, gets the row count appended at the end."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for row in contract_codes_rows(contract):
        writer.writerow(row)
        count += 1
        if count % BATCH_SIZE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
    if rows is not None:
        rows.append(count)


def codes_csv_write(contract: ContractPage, path: Path) -> int:
    """Write the contract's codes CSV to ``path`` (UTF-8, RFC 4180); returns the row count.

    The codes are secrets: the file is readable by its owner only (mode 0600), written whole
    through a temporary file created exclusively beside ``path`` and renamed, never through a
    link (``main.exports.private_file``). The text is ``codes_csv_chunks``'s. Raises
    ``NotARegularFile`` (a ``ValueError``) for a path that exists and is not a regular file (a
    directory, a device, a symbolic link: never replaced), ``OSError`` for a path that cannot be
    written.
    """
    count: list[int] = []
    with private_file(path) as handle:
        for chunk in codes_csv_chunks(contract, rows=count):
            handle.write(chunk)
    return count[0]
