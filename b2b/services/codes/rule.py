"""The code adjustment rule of SPEC §4: ``codes_target``, ``codes_plan`` (what it would do) and
``codes_adjust`` (doing it, product by product, with set-based statements)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from b2b.models import ContractMembership, ContractPage, SeatAssignmentCode
from b2b.services.codes.report import (
    ONE_TIME,
    UNLIMITED,
    CodesProgress,
    CodesReport,
    ProductCodes,
)
from b2b.services.codes_pending import (
    codes_pending_clear,
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

log = logging.getLogger(__name__)


def _codes_of(product_id: int) -> DiscountQuerySet:
    return Discount.objects.filter(product_links__product_id=product_id)


def _usable_one_time(product_id: int) -> DiscountQuerySet:
    return _codes_of(product_id).usable().filter(redemption_type=ONE_TIME)


def _leaving_first(product_id: int) -> DiscountQuerySet:
    """A product's usable one-time codes in the order a lower cap deactivates them: codes held
    for a seat assigned by email (SPEC §9) last, newest first within each."""
    held = Exists(
        SeatAssignmentCode.objects.filter(discount_id=OuterRef("pk"), assignment__status="open")
    )
    return _usable_one_time(product_id).annotate(held=held).order_by("held", "-pk")


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
    report = CodesReport(
        contract.pk,
        needs_codes=contract.needs_codes,
        max_learners=contract.max_learners,
        price=contract.price,
        learners=ContractMembership.objects.filter(contract_id=contract.pk).count(),
        dry_run=True,
    )
    if not products:
        return report
    ids = [p.pk for p in products]
    stats = _code_counts(contract, ids)
    learners = _learners_by_product(ids)
    for product in products:
        item = ProductCodes(
            product.pk,
            product.description,
            price_before=product.price,
            price_after=contract.price,
            learners_redeemed=learners.get(product.pk, 0),
        )
        report.products.append(item)
        _product_plan(
            contract, product.pk, item, stats.get(product.pk, dict.fromkeys(COUNT_NAMES, 0))
        )
    return report


#: The counts of a product's codes the rule reads (``_code_counts``): usable one-time
#: unredeemed (u1), active unlimited (au) and those redeemed, unredeemed, and the ones of each
#: not at the contract's price and dates (stale_*).
COUNT_NAMES = ("u1", "au", "au_redeemed", "unredeemed", "stale_u1", "stale_au", "stale_au_redeemed")


def _code_counts(contract: ContractPage, ids: list[int]) -> dict[int, dict[str, int]]:
    """``COUNT_NAMES`` per product, in one grouped query."""
    stale = ~_current(contract, "discount__")
    active, one_time, unlimited = (
        Q(discount__is_active=True),
        Q(discount__redemption_type=ONE_TIME),
        Q(discount__redemption_type=UNLIMITED),
    )
    u1 = active & one_time & Q(redeemed=False)
    au = active & unlimited
    rows = (
        DiscountProduct.objects.filter(product_id__in=ids)
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
    )
    return {
        row["product_id"]: {
            "u1": row["u1"],
            "au": row["au"],
            "au_redeemed": row["au_redeemed"],
            "unredeemed": row["unredeemed"],
            "stale_u1": row["stale_u1"],
            "stale_au": row["stale_au"],
            "stale_au_redeemed": row["stale_au_redeemed"],
        }
        for row in rows
    }


def _learners_by_product(ids: list[int]) -> dict[int, int]:
    """Distinct learners with a redemption on each product, in one grouped query."""
    return {
        row["product_id"]: row["learners"]
        for row in DiscountRedemption.objects.filter(
            redeemed_discount__product_links__product_id__in=ids
        )
        .values(product_id=F("redeemed_discount__product_links__product_id"))
        .annotate(learners=Count("redeemed_by", distinct=True))
        .order_by()
    }


def _product_plan(
    contract: ContractPage, product_id: int, item: ProductCodes, row: dict[str, int]
) -> None:
    """Fill ``item`` with what SPEC §4's cases 3-5 ask of product ``product_id``, from its
    counts (``COUNT_NAMES``)."""
    cap = contract.max_learners
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
            newest = _leaving_first(product_id).values("pk")[:surplus]
            stale_leaving = (
                Discount.objects.filter(pk__in=newest).exclude(_current(contract)).count()
            )
        item.repriced = row["stale_u1"] - stale_leaving
        item.usable_after = target


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
                newest = lockable(_leaving_first(product.pk)).values("pk")[:surplus]
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
