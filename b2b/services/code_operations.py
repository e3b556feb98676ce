"""What operators do with single enrollment codes: see every code of a contract with its status,
look one code up, take leaked codes out of use (``b2b_list contracts --codes ID --format json``,
``b2b_codes show``, ``b2b_codes deactivate``).

A code's status: ``deactivated`` (not active: never usable again, SPEC §4.7), ``redeemed`` (a
one-time code with a redemption; the order may still be waiting for its payment, see
``order_state``), else ``usable`` (an unlimited code stays usable however often it is used).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Lower
from django.utils import timezone

from b2b.models import ContractPage
from b2b.services.audit import audit_record
from b2b.services.codes import codes_adjust_queue
from b2b.services.contracts import contract_get, json_value
from ecommerce.exceptions import InvalidCode
from ecommerce.models import Discount, DiscountProduct, DiscountRedemption
from ecommerce.services.discounts import code_normalize
from main.exceptions import ConflictError

USABLE, REDEEMED, DEACTIVATED = "usable", "redeemed", "deactivated"

#: The keys of each row of ``contract_codes_status`` (and of ``b2b_list contracts --codes ID
#: --format json``).
CODE_KEYS = (
    "code",
    "product_id",
    "product",
    "status",
    "redemption_type",
    "amount",
    "activation",
    "expiration",
    "redemptions",
    "redeemed_by",
    "redeemed_by_id",
    "redeemed_at",
    "order_id",
    "order_state",
)
#: Rows fetched per round trip when streaming a contract's codes.
CHUNK = 5_000


class CodeRedeemed(ConflictError):
    code = "code-redeemed"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def code_status(*, is_active: bool, redemption_type: str, redemptions: int) -> str:
    """``deactivated``, ``redeemed`` or ``usable`` (see the module docstring)."""
    if not is_active:
        return DEACTIVATED
    if redemption_type == Discount.RedemptionType.ONE_TIME and redemptions:
        return REDEEMED
    return USABLE


def _latest_redemptions(discount_ids: Any) -> dict[int, dict[str, Any]]:
    """For each code with redemptions: their count and the latest one (who, when, which order)."""
    rows = (
        DiscountRedemption.objects.filter(redeemed_discount_id__in=discount_ids)
        .order_by("redeemed_discount_id", "redemption_date", "pk")
        .values_list(
            "redeemed_discount_id",
            "redeemed_by_id",
            "redeemed_by__email",
            "redeemed_by__username",
            "redemption_date",
            "redeemed_order_id",
            "redeemed_order__state",
        )
    )
    latest: dict[int, dict[str, Any]] = {}
    for discount_id, user_id, email, username, date, order_id, state in rows.iterator(CHUNK):
        count = latest.get(discount_id, {}).get("redemptions", 0) + 1
        latest[discount_id] = {
            "redemptions": count,
            "redeemed_by": email or username,
            "redeemed_by_id": user_id,
            "redeemed_at": _iso(date),
            "order_id": order_id,
            "order_state": state,
        }
    return latest


def contract_codes_status(contract_id: int) -> Iterator[dict[str, Any]]:
    """Every enrollment code of the contract's runs' products, active or not, with its status
    and, when redeemed, who redeemed it, when, and on which order (keys ``CODE_KEYS``), ordered
    by product then code age. Streams: a fixed number of queries whatever the number of codes.
    Raises ``ContractNotFound``.
    """
    contract = contract_get(contract_id)
    links = DiscountProduct.objects.filter(product__course_run__b2b_contract=contract)
    used = _latest_redemptions(links.values("discount_id"))
    rows = links.order_by("product_id", "discount_id").values_list(
        "discount_id",
        "discount__discount_code",
        "product_id",
        "product__description",
        "discount__is_active",
        "discount__redemption_type",
        "discount__amount",
        "discount__activation_date",
        "discount__expiration_date",
    )
    none = {
        "redemptions": 0,
        "redeemed_by": None,
        "redeemed_by_id": None,
        "redeemed_at": None,
        "order_id": None,
        "order_state": None,
    }
    for pk, code, product_id, description, active, kind, amount, start, end in rows.iterator(CHUNK):
        redeemed = used.get(pk, none)
        yield {
            "code": code,
            "product_id": product_id,
            "product": description,
            "status": code_status(
                is_active=active, redemption_type=kind, redemptions=redeemed["redemptions"]
            ),
            "redemption_type": kind,
            "amount": json_value(amount),
            "activation": _iso(start),
            "expiration": _iso(end),
            **redeemed,
        }


def _find(texts: list[str]) -> tuple[dict[str, Discount], list[str]]:
    wanted = {code_normalize(text): text for text in texts}
    found: dict[str, Discount] = {
        d.discount_code.lower(): d
        for d in Discount.objects.alias(code_ci=Lower("discount_code")).filter(code_ci__in=wanted)
    }
    return found, [text for key, text in wanted.items() if key not in found]


def code_describe(text: str) -> dict[str, Any]:
    """Everything about one code: its fields, status, products (with run, contract and
    organization) and every redemption (who, when, order and its state). Case-insensitive,
    spaces trimmed. Raises ``InvalidCode`` for a text that names no code."""
    found, missing = _find([text])
    if missing:
        raise InvalidCode(
            f"No enrollment code '{code_normalize(text)}': check it (codes are UUIDs)."
        )
    discount = next(iter(found.values()))
    redemptions = [
        {
            "user_id": r.redeemed_by_id,
            "user": r.redeemed_by.email or r.redeemed_by.get_username(),
            "date": _iso(r.redemption_date),
            "order_id": r.redeemed_order_id,
            "order_state": r.redeemed_order.state if r.redeemed_order else None,
        }
        for r in discount.redemptions.select_related("redeemed_by", "redeemed_order").order_by(
            "redemption_date", "pk"
        )
    ]
    products = []
    for link in discount.product_links.select_related(
        "product__course_run__b2b_contract__organization"
    ).order_by("product_id"):
        run = link.product.course_run
        contract = run.b2b_contract
        products.append(
            {
                "product_id": link.product_id,
                "product": link.product.description,
                "product_active": link.product.is_active,
                "run": run.courseware_id,
                "contract_id": contract.pk if contract else None,
                "contract": contract.name if contract else None,
                "organization": contract.organization.name if contract else None,
            }
        )
    return {
        "code": discount.discount_code,
        "status": code_status(
            is_active=discount.is_active,
            redemption_type=discount.redemption_type,
            redemptions=len(redemptions),
        ),
        "redemption_type": discount.redemption_type,
        "discount_type": discount.discount_type,
        "amount": json_value(discount.amount),
        "payment_type": discount.payment_type,
        "is_bulk": discount.is_bulk,
        "activation": _iso(discount.activation_date),
        "expiration": _iso(discount.expiration_date),
        "created_on": _iso(discount.created_on),
        "updated_on": _iso(discount.updated_on),
        "products": products,
        "redemptions": redemptions,
    }


@dataclass
class CodesDeactivateResult:
    """Per code (as given): ``deactivated`` now, or ``already-deactivated``."""

    outcomes: dict[str, str] = field(default_factory=dict)
    contract_ids: list[int] = field(default_factory=list)

    @property
    def deactivated(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome == DEACTIVATED)


def codes_deactivate(texts: list[str]) -> CodesDeactivateResult:
    """Take codes out of use (a leaked code): all of them or, on a refusal, none.

    Case-insensitive, spaces trimmed. Refused: a text that names no code (``invalid-code``), a
    redeemed code (``code-redeemed``: a one-time code with a redemption, even one whose order
    waits for its payment). A code already deactivated is reported and left alone. The code rows
    are locked while deciding, so a checkout cannot redeem one in between. Each contract of the
    deactivated codes records ``codes.deactivate`` in its history (the count and the codes; the
    actor is the interface's: the operator's command) and gets its code adjustment queued
    (SPEC §4.5: a capped contract gets a fresh code in place of each one taken out).
    """
    with transaction.atomic():
        found, missing = _find(texts)
        if missing:
            raise InvalidCode(
                f"No enrollment code {', '.join(repr(m) for m in missing)}: nothing was "
                "deactivated. Check the codes (b2b_codes show CODE)."
            )
        locked = list(
            Discount.objects.select_for_update()
            .filter(pk__in=[d.pk for d in found.values()])
            .order_by("pk")
        )
        counts = dict(
            DiscountRedemption.objects.filter(redeemed_discount__in=locked)
            .values_list("redeemed_discount_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        redeemed = [
            d.discount_code
            for d in locked
            if code_status(
                is_active=d.is_active,
                redemption_type=d.redemption_type,
                redemptions=counts.get(d.pk, 0),
            )
            == REDEEMED
        ]
        if redeemed:
            raise CodeRedeemed(
                f"Redeemed codes cannot be deactivated: {', '.join(redeemed)}. Nothing was "
                "deactivated; leave these out (b2b_codes show CODE says who redeemed it)."
            )
        result = CodesDeactivateResult()
        by_code = {d.discount_code.lower(): d for d in locked}
        doomed = []
        for text in texts:
            discount = by_code[code_normalize(text)]
            if discount.is_active and discount.pk not in doomed:
                doomed.append(discount.pk)
                result.outcomes[discount.discount_code] = DEACTIVATED
            elif discount.discount_code not in result.outcomes:
                result.outcomes[discount.discount_code] = "already-deactivated"
        Discount.objects.filter(pk__in=doomed).update(is_active=False, updated_on=timezone.now())
        by_contract: dict[int, set[str]] = {}
        for contract_id, code in DiscountProduct.objects.filter(
            discount_id__in=doomed, product__course_run__b2b_contract__isnull=False
        ).values_list("product__course_run__b2b_contract_id", "discount__discount_code"):
            by_contract.setdefault(contract_id, set()).add(code)
        result.contract_ids = sorted(by_contract)
        for contract in ContractPage.objects.filter(pk__in=result.contract_ids).order_by("pk"):
            codes = sorted(by_contract[contract.pk])
            # Who took the codes out of use is the operator (the command's actor), whoever
            # runs the adjustment this queues.
            audit_record(
                contract,
                action="codes.deactivate",
                changes={"deactivated": len(codes), "codes": codes},
            )
            codes_adjust_queue(contract)
    return result
