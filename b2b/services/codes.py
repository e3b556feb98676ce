"""Enrollment codes: the adjustment rule of SPEC §4, and the codes CSV of SPEC §2.

Enrollment codes are ``ecommerce.Discount`` rows linked to the products of a contract's runs.
``codes_adjust`` brings them in line with the contract; it is the only writer of a contract's code
set besides courseware removal (which deactivates the codes of products taken off sale).
"""

from __future__ import annotations

import csv
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from b2b.models import ContractCodesLock, ContractMembership, ContractPage
from ecommerce.models import Discount, DiscountProduct, DiscountRedemption, Product

log = logging.getLogger(__name__)

#: Rows per INSERT / UPDATE batch and per fetch when streaming (SPEC §4.8: B ≥ 5,000).
BATCH_SIZE = 5_000

ONE_TIME = Discount.RedemptionType.ONE_TIME
UNLIMITED = Discount.RedemptionType.UNLIMITED

Progress = Callable[[str, int], None]


@dataclass
class ProductCodes:
    """What the adjustment did (or would do) to one product's codes; counts of codes."""

    product_id: int
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

    @property
    def product_repriced(self) -> bool:
        return self.price_before != self.price_after


@dataclass
class CodesReport:
    """The adjustment of one contract's codes, product by product (SPEC §4)."""

    contract_id: int
    needs_codes: bool
    max_learners: int | None
    price: Decimal
    learners: int = 0
    products: list[ProductCodes] = field(default_factory=list)

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
        return any(
            p.product_repriced or p.created or p.deactivated or p.converted or p.deleted or p.repriced
            for p in self.products
        )

    def summary(self) -> str:
        return (
            f"contract {self.contract_id}: {self.total('created')} codes created, "
            f"{self.total('deactivated')} deactivated, {self.total('converted')} made unlimited, "
            f"{self.total('deleted')} deleted, {self.total('repriced')} re-priced/re-dated, "
            f"{sum(p.product_repriced for p in self.products)} products re-priced; "
            f"{self.total('usable_after')} usable"
            + (" — OVER ITS LEARNER CAP" if self.over_cap else "")
        )


def codes_adjust_queue(contract: ContractPage) -> None:
    """Queue ``codes_adjust`` for the contract once the current transaction commits."""
    from b2b.tasks import contract_codes_adjust  # the task module imports this one
    from main.queue import enqueue_on_commit

    enqueue_on_commit(contract_codes_adjust, contract.pk)


def codes_adjustment_hint(contract_id: int) -> str:
    """A line for the operator on where the code adjustment ran (eager) or went (a worker)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return (
            f"Enrollment codes adjusted; `manage.py b2b_list courseware --contract {contract_id}` "
            "shows the counts."
        )
    return "The enrollment-code adjustment is queued for the Celery worker."


def _redeemed(outer: str = "pk") -> Exists:
    return Exists(DiscountRedemption.objects.filter(redeemed_discount=OuterRef(outer)))


def usable_codes(queryset: QuerySet[Discount] | None = None) -> QuerySet[Discount]:
    """Codes that can still be used: active, and unlimited or never redeemed."""
    queryset = Discount.objects.all() if queryset is None else queryset
    return queryset.alias(redeemed=_redeemed()).filter(
        Q(is_active=True) & (Q(redemption_type=UNLIMITED) | Q(redeemed=False))
    )


def _codes_of(product_id: int) -> QuerySet[Discount]:
    return Discount.objects.filter(product_links__product_id=product_id)


def _new_codes(
    product_id: int,
    count: int,
    *,
    redemption_type: str,
    amount: Decimal,
    activation: object,
    expiration: object,
    progress: Progress | None,
) -> None:
    """Insert ``count`` codes for a product in batches (one INSERT pair per batch)."""
    made = 0
    while made < count:
        size = min(BATCH_SIZE, count - made)
        discounts = Discount.objects.bulk_create(
            [
                Discount(
                    discount_code=str(uuid.uuid4()),
                    amount=amount,
                    discount_type=Discount.DiscountType.FIXED_PRICE,
                    redemption_type=redemption_type,
                    payment_type=Discount.PaymentType.SALES,
                    is_bulk=True,
                    is_active=True,
                    activation_date=activation,
                    expiration_date=expiration,
                )
                for _ in range(size)
            ],
            batch_size=BATCH_SIZE,
        )
        DiscountProduct.objects.bulk_create(
            [DiscountProduct(discount_id=d.pk, product_id=product_id) for d in discounts],
            batch_size=BATCH_SIZE,
        )
        made += size
        if progress:
            progress("create", size)


def _lock(contract_id: int) -> None:
    """Take the contract's code lock for this transaction (a write, so SQLite serialises too)."""
    updated = ContractCodesLock.objects.filter(contract_id=contract_id).update(locked_at=timezone.now())
    if not updated:
        ContractCodesLock.objects.get_or_create(contract_id=contract_id)
        ContractCodesLock.objects.filter(contract_id=contract_id).update(locked_at=timezone.now())


def codes_adjust(contract_id: int, *, progress: Progress | None = None) -> CodesReport:
    """Bring a contract's products and enrollment codes in line with it (SPEC §4).

    1. Products follow the contract price.
    2. Codes are needed for ``non-sso`` contracts and for priced ``sso`` ones.
    3. Not needed and uncapped: unredeemed codes are deleted (the only deletion); not needed and
       capped: none created, existing ones left.
    4. Needed and uncapped: usable one-time codes become unlimited; a product with no usable code
       gets one unlimited code.
    5. Needed and capped at N: per product, usable one-time codes + learners with a redemption on
       it = N; missing ones are created, surplus unredeemed ones deactivated newest first (never a
       redeemed one); active unlimited codes are deactivated.
    6. Usable codes carry the contract price and its dates (activation 00:00 of the start,
       expiration 23:59:59 of the end, in ``TIME_ZONE``).

    Serialised per contract by its own lock row (not the contract row: checkout keeps working),
    idempotent, in one transaction: a run cut short leaves nothing half-done. Queries: a few per
    product plus one per ``BATCH_SIZE`` codes written. Returns what it did. A contract that no
    longer exists is reported with no products (the task may arrive after a deletion).
    """
    with transaction.atomic():
        _lock(contract_id)
        contract = ContractPage.objects.filter(pk=contract_id).first()
        if contract is None:
            return CodesReport(contract_id, needs_codes=False, max_learners=None, price=Decimal("0.00"))
        report = _adjust(contract, progress)
    log.log(logging.INFO if report.changed else logging.DEBUG, "Enrollment codes adjusted for %s", report.summary())
    return report


def _adjust(contract: ContractPage, progress: Progress | None) -> CodesReport:
    price = contract.price
    cap = contract.max_learners
    activation, expiration = contract.starts_at, contract.ends_at
    report = CodesReport(
        contract.pk,
        needs_codes=contract.needs_codes,
        max_learners=cap,
        price=price,
        learners=ContractMembership.objects.filter(contract=contract).count(),
    )
    products = list(
        Product.objects.filter(course_run__b2b_contract=contract, is_active=True).order_by("pk")
    )
    if not products:
        return report
    ids = [p.pk for p in products]

    # 1. Product prices.
    Product.objects.filter(pk__in=ids).exclude(price=price).update(price=price, updated_on=timezone.now())

    # Per-product counts in two grouped queries.
    links = DiscountProduct.objects.filter(product_id__in=ids).alias(
        redeemed=_redeemed("discount_id")
    )
    stats = {
        row["product_id"]: row
        for row in links.values("product_id")
        .annotate(
            usable_one_time=Count(
                "pk",
                filter=Q(discount__is_active=True, discount__redemption_type=ONE_TIME, redeemed=False),
            ),
            active_unlimited=Count(
                "pk", filter=Q(discount__is_active=True, discount__redemption_type=UNLIMITED)
            ),
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

    for product in products:
        row = stats.get(product.pk, {"usable_one_time": 0, "active_unlimited": 0})
        item = ProductCodes(
            product.pk,
            product.description,
            price_before=product.price,
            price_after=price,
            learners_redeemed=learners.get(product.pk, 0),
        )
        report.products.append(item)
        codes = _codes_of(product.pk)
        usable_one_time, active_unlimited = row["usable_one_time"], row["active_unlimited"]
        new_code = {"amount": price, "activation": activation, "expiration": expiration, "progress": progress}

        if not contract.needs_codes:
            if cap is None:  # 3. not needed, uncapped: delete the unredeemed ones
                doomed = codes.alias(redeemed=_redeemed()).filter(redeemed=False)
                DiscountProduct.objects.filter(discount__in=doomed).delete()
                item.deleted = Discount.objects.filter(
                    pk__in=doomed.values("pk"), product_links__isnull=True
                ).delete()[0]
                if progress:
                    progress("delete", item.deleted)
        elif cap is None:  # 4. needed, uncapped
            if usable_one_time:
                item.converted = (
                    codes.alias(redeemed=_redeemed())
                    .filter(is_active=True, redemption_type=ONE_TIME, redeemed=False)
                    .update(redemption_type=UNLIMITED, updated_on=timezone.now())
                )
            if usable_one_time + active_unlimited == 0:
                _new_codes(product.pk, 1, redemption_type=UNLIMITED, **new_code)
                item.created, item.created_type = 1, UNLIMITED
        else:  # 5. needed, capped at N
            if active_unlimited:
                item.deactivated += codes.filter(is_active=True, redemption_type=UNLIMITED).update(
                    is_active=False, updated_on=timezone.now()
                )
            target = max(0, cap - item.learners_redeemed)
            if usable_one_time < target:
                item.created, item.created_type = target - usable_one_time, ONE_TIME
                _new_codes(product.pk, item.created, redemption_type=ONE_TIME, **new_code)
            elif usable_one_time > target:
                surplus = usable_one_time - target
                newest = (
                    codes.alias(redeemed=_redeemed())
                    .filter(is_active=True, redemption_type=ONE_TIME, redeemed=False)
                    .order_by("-pk")
                    .values("pk")[:surplus]
                )
                item.deactivated += Discount.objects.filter(pk__in=newest).update(
                    is_active=False, updated_on=timezone.now()
                )
                if progress:
                    progress("deactivate", item.deactivated)

        # 6. Amounts and dates of the usable codes.
        current = Q(amount=price)
        current &= Q(activation_date=activation) if activation else Q(activation_date__isnull=True)
        current &= Q(expiration_date=expiration) if expiration else Q(expiration_date__isnull=True)
        stale = usable_codes(codes).exclude(current)
        item.repriced = Discount.objects.filter(pk__in=stale.values("pk")).update(
            amount=price, activation_date=activation, expiration_date=expiration,
            updated_on=timezone.now(),
        )
        item.usable_after = usable_codes(codes).count()
    return report


def codes_deactivate_for_products(product_ids: list[int]) -> int:
    """Deactivate the usable codes of products taken off sale; redeemed one-time codes and all
    redemptions stay as they are. Returns how many codes were deactivated."""
    if not product_ids:
        return 0
    doomed = usable_codes(Discount.objects.filter(product_links__product_id__in=product_ids))
    return Discount.objects.filter(pk__in=doomed.values("pk")).update(
        is_active=False, updated_on=timezone.now()
    )


# -- the codes CSV (SPEC §2) -------------------------------------------------------------------

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
        .annotate(redeemed=_redeemed("discount_id"))
        .order_by("product_id", "discount_id")
        .values_list("discount__discount_code", "product_id", "product__description", "redeemed")
    )
    urls: dict[int, str] = {}
    for code, product_id, description, redeemed in rows.iterator(chunk_size=BATCH_SIZE):
        url = urls.get(product_id) or urls.setdefault(product_id, product_url(product_id))
        yield code, description, "Yes" if redeemed else "No", url


def codes_csv_write(contract: ContractPage, path: Path) -> int:
    """Write the contract's codes CSV to ``path`` (UTF-8, RFC 4180); returns the row count.

    Written to a temporary file beside ``path`` and renamed, so a failure leaves no half file.
    Raises ``OSError`` for a path that cannot be written.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(CSV_HEADER)
            for row in contract_codes_rows(contract):
                writer.writerow(row)
                count += 1
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count
