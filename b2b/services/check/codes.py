"""Findings on enrollment codes: usable codes against what SPEC §4.3–4.6 asks (count, amount,
dates) and adjustments asked for but not done (ARCHITECTURE rule 12)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, F

from b2b.models import ContractPage
from b2b.services.check.findings import (
    ERROR,
    UNLIMITED,
    Finding,
    ProductRow,
    Repair,
    RunRow,
    codes_label,
    fix_command,
    money_text,
    when_text,
)
from b2b.services.codes import codes_target
from b2b.services.codes_pending import codes_pending_overdue
from ecommerce.models import (
    DiscountProduct,
    DiscountRedemption,
    code_redeemed,
    code_usable,
)


def codes_findings(
    by_id: dict[int, ContractPage], runs: list[RunRow], products: dict[int, ProductRow]
) -> list[Finding]:
    """Usable codes per active product against ``codes_target`` (SPEC §4) and the contract's
    price and dates. Two grouped queries."""
    product_contract = {
        products[run["pk"]]["pk"]: by_id[run["b2b_contract_id"]]
        for run in runs
        if run["pk"] in products
    }
    product_run = {
        products[run["pk"]]["pk"]: run["courseware_id"] for run in runs if run["pk"] in products
    }
    if not product_contract:
        return []
    tally = _codes_tally(product_contract)
    learners = _learners_by_product(list(product_contract))
    findings = []
    for product_id, contract in product_contract.items():
        findings += _product_findings(
            contract,
            f"product {product_id} ({product_run[product_id]})",
            tally[product_id],
            learners.get(product_id, 0),
        )
    return findings


def _codes_tally(product_contract: dict[int, ContractPage]) -> dict[int, dict[str, int]]:
    """Per product: codes ``unredeemed``, usable ``one_time`` and ``unlimited``, and usable codes
    not at the contract's price (``bad_amount``) or dates (``bad_dates``). One grouped query."""
    groups = (
        DiscountProduct.objects.filter(product_id__in=list(product_contract))
        .annotate(
            redeemed=code_redeemed("discount__"),
            usable=ExpressionWrapper(code_usable("discount__"), output_field=BooleanField()),
        )
        .values(
            "product_id",
            "redeemed",
            "usable",
            "discount__is_active",
            "discount__redemption_type",
            "discount__amount",
            "discount__activation_date",
            "discount__expiration_date",
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    tally: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in groups:
        product_id, count = row["product_id"], row["n"]
        contract = product_contract[product_id]
        counts = tally[product_id]
        if not row["redeemed"]:
            counts["unredeemed"] += count
        if not row["usable"]:
            continue
        counts["unlimited" if row["discount__redemption_type"] == UNLIMITED else "one_time"] += (
            count
        )
        if row["discount__amount"] != contract.price:
            counts["bad_amount"] += count
        if (
            row["discount__activation_date"] != contract.starts_at
            or row["discount__expiration_date"] != contract.ends_at
        ):
            counts["bad_dates"] += count
    return tally


def _learners_by_product(product_ids: list[int]) -> dict[int, int]:
    """Distinct learners with a redemption on each product (one grouped query)."""
    return {
        row["product_id"]: row["learners"]
        for row in DiscountRedemption.objects.annotate(
            product_id=F("redeemed_discount__product_links__product_id")
        )
        .filter(product_id__in=product_ids)
        .values("product_id")
        .annotate(learners=Count("redeemed_by", distinct=True))
        .order_by()
    }


def _product_findings(
    contract: ContractPage, subject: str, counts: dict[str, int], learners: int
) -> list[Finding]:
    """One product's codes judged against its target, price and dates."""
    repair = Repair("codes", contract.pk, contract.pk, codes_label(contract.pk))
    target = codes_target(
        needs_codes=contract.needs_codes,
        cap=contract.max_learners,
        learners_redeemed=learners,
    )
    wrong_count = (
        (target.one_time is not None and counts["one_time"] != target.one_time)
        or counts["unlimited"] < target.unlimited_min
        or (target.unlimited_max is not None and counts["unlimited"] > target.unlimited_max)
        or (target.unredeemed_max is not None and counts["unredeemed"] > target.unredeemed_max)
    )
    findings = []
    if wrong_count:
        findings.append(
            Finding(
                contract.pk,
                "codes-count",
                ERROR,
                subject,
                _target_text(target, learners),
                f"{counts['one_time']} usable one-time, {counts['unlimited']} usable "
                f"unlimited, {counts['unredeemed']} unredeemed",
                fix_command(contract.pk),
                repair,
            )
        )
    if counts["bad_amount"]:
        findings.append(
            Finding(
                contract.pk,
                "codes-amount",
                ERROR,
                subject,
                f"usable codes at {money_text(contract.price)}",
                f"{counts['bad_amount']} usable codes at another amount",
                fix_command(contract.pk),
                repair,
            )
        )
    if counts["bad_dates"]:
        findings.append(
            Finding(
                contract.pk,
                "codes-dates",
                ERROR,
                subject,
                f"usable codes from {when_text(contract.starts_at)} "
                f"to {when_text(contract.ends_at)}",
                f"{counts['bad_dates']} usable codes with other dates",
                fix_command(contract.pk),
                repair,
            )
        )
    return findings


def codes_pending_findings(by_id: dict[int, ContractPage], now: dt.datetime) -> list[Finding]:
    """Contracts whose code adjustment was asked for longer ago than ``REQUEUE_PENDING_AFTER``
    and has not finished: lost, or failing, or no worker and beat running. One query."""
    findings = []
    for contract_id, requested_on in codes_pending_overdue(list(by_id), now=now).items():
        findings.append(
            Finding(
                contract_id,
                "codes-pending",
                ERROR,
                "code adjustment",
                f"adjusted within {settings.REQUEUE_PENDING_AFTER:g} s of the change "
                "(REQUEUE_PENDING_AFTER)",
                f"pending since {when_text(requested_on)}",
                f"{fix_command(contract_id)} (and see that a Celery worker runs with beat)",
                Repair("codes", contract_id, contract_id, codes_label(contract_id)),
            )
        )
    return findings


def _target_text(target: Any, learners: int) -> str:
    if target.unredeemed_max == 0:
        return "no unredeemed code (SSO, free, uncapped)"
    if target.unlimited_min:
        return "no usable one-time code, at least 1 usable unlimited code (uncapped)"
    return (
        f"{target.one_time} usable one-time (cap − {learners} learners redeemed), 0 usable "
        "unlimited"
    )
