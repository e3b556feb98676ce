"""Findings on redemptions against their orders, payments, enrollments and memberships
(SPEC §5)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from b2b.models import ContractMembership
from b2b.services.check.findings import (
    ERROR,
    FULFILLED,
    ONE_TIME,
    PENDING,
    WARNING,
    Finding,
)
from courses.models import CourseRunEnrollment
from ecommerce.models import (
    DiscountRedemption,
    Transaction,
)
from ecommerce.services.payments import ACCEPT, CURRENCY

#: What a redemption must have, checked by count: (kind, severity, the count's name, what every
#: redemption has, what the counted ones lack).
CHECKS = (
    (
        "redemption-order",
        ERROR,
        "not_fulfilled",
        "a fulfilled order",
        "orders canceled, declined or refunded",
    ),
    (
        "redemption-order-pending",
        WARNING,
        "pending_old",
        "payment settled within an hour",
        "orders pending for over an hour",
    ),
    (
        "redemption-payment",
        ERROR,
        "paid_otherwise",
        f"an accepted payment of its order's amount in {CURRENCY}",
        "fulfilled orders paid another amount or currency (see their transactions)",
    ),
    (
        "redemption-enrollment",
        ERROR,
        "no_enrollment",
        "an enrollment in the run",
        "no enrollment of the learner in the run",
    ),
    (
        "redemption-membership",
        ERROR,
        "no_membership",
        "a membership of the contract",
        "no membership of the learner",
    ),
)


def redemptions_findings(ids: list[int], stale: dt.datetime) -> list[Finding]:
    """Redemptions on the contracts' products against their orders, enrollments and memberships
    (SPEC §5): one grouped query, plus one for one-time codes redeemed more than once."""
    base = DiscountRedemption.objects.annotate(
        contract_id=F("redeemed_discount__product_links__product__course_run__b2b_contract_id"),
        run_id=F("redeemed_discount__product_links__product__course_run_id"),
    ).filter(contract_id__in=ids)
    findings = []
    for cid, counts in _redemption_counts(base, stale).items():
        for kind, severity, name, expected, what in CHECKS:
            if counts[name]:
                findings.append(
                    Finding(
                        cid,
                        kind,
                        severity,
                        "redemptions",
                        f"every redemption has {expected}",
                        f"{counts[name]} of {counts['total']} redemptions: {what}",
                        f"b2b_list contracts --codes {cid} --format json lists them; mend by "
                        "hand (nothing is deleted automatically)",
                    )
                )
    return findings + _redeemed_twice(base)


def _redemption_counts(base: QuerySet[Any], stale: dt.datetime) -> dict[int, dict[str, int]]:
    """Per contract: its redemptions (``total``) and those lacking what ``CHECKS`` asks for, by
    the check's count name. One grouped query."""
    enrolled = Exists(
        CourseRunEnrollment.objects.filter(
            user_id=OuterRef("redeemed_by_id"), run_id=OuterRef("run_id")
        )
    )
    attached = Exists(
        ContractMembership.objects.filter(
            user_id=OuterRef("redeemed_by_id"), contract_id=OuterRef("contract_id")
        )
    )
    # An accepted payment of another amount or currency than its order's (or with none said).
    paid_otherwise = Exists(
        Transaction.objects.filter(order_id=OuterRef("redeemed_order_id"), decision=ACCEPT).filter(
            Q(amount__isnull=True)
            | ~Q(amount=OuterRef("redeemed_order__total_price_paid"))
            | Q(data__req_currency__isnull=True)
            | ~Q(data__req_currency=CURRENCY)
        )
    )
    pending = Q(redeemed_order__state=PENDING)
    # A code used to join its contract (``/join/``) has no order and no enrollment: it attached
    # the learner, who enrolls later (SPEC §5). Only its membership is checked.
    on_order = Q(redeemed_order__isnull=False)
    rows = (
        base.values("contract_id")
        .annotate(
            total=Count("pk"),
            not_fulfilled=Count(
                "pk", filter=on_order & ~Q(redeemed_order__state=FULFILLED) & ~pending
            ),
            pending_old=Count("pk", filter=pending & Q(redeemed_order__created_on__lt=stale)),
            paid_otherwise=Count(
                "pk", filter=Q(redeemed_order__state=FULFILLED) & Q(paid_otherwise)
            ),
            no_enrollment=Count("pk", filter=on_order & Q(~enrolled)),
            no_membership=Count("pk", filter=~attached),
        )
        .order_by()
    )
    return {
        row["contract_id"]: {
            "total": row["total"],
            "not_fulfilled": row["not_fulfilled"],
            "pending_old": row["pending_old"],
            "paid_otherwise": row["paid_otherwise"],
            "no_enrollment": row["no_enrollment"],
            "no_membership": row["no_membership"],
        }
        for row in rows
    }


def _redeemed_twice(base: QuerySet[Any]) -> list[Finding]:
    """One-time codes with more than one redemption, by contract (one grouped query)."""
    twice: dict[int, list[int]] = defaultdict(list)
    for pair in (
        base.filter(redeemed_discount__redemption_type=ONE_TIME)
        .values("contract_id", "redeemed_discount_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("redeemed_discount_id")
    ):
        twice[pair["contract_id"]].append(pair["redeemed_discount_id"])
    return [
        Finding(
            cid,
            "code-redeemed-twice",
            ERROR,
            "codes " + ", ".join(str(pk) for pk in codes[:5]) + (" …" if len(codes) > 5 else ""),
            "one redemption per one-time code",
            f"{len(codes)} one-time codes redeemed more than once",
            "b2b_codes show CODE lists its redemptions; mend by hand",
        )
        for cid, codes in twice.items()
    ]
