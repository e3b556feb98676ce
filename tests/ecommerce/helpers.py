"""Helpers for the cart and checkout tests: the gateway's side of CyberSource Secure Acceptance,
and snapshots of everything a refused checkout must leave as it was."""

import base64
import hashlib
import hmac

from b2b.models import ContractMembership
from courses.models import CourseRunEnrollment
from ecommerce.models import (
    BasketDiscount,
    BasketItem,
    Discount,
    DiscountRedemption,
    Line,
    Order,
    Transaction,
)
from tests.shop import SECURITY_KEY


def sign(fields: dict[str, str], key: str = SECURITY_KEY) -> str:
    """The Secure Acceptance signature, computed here independently of the library:
    base64(HMAC-SHA256(key, "name=value,..." over signed_field_names, in that order))."""
    names = fields["signed_field_names"].split(",")
    message = ",".join(f"{name}={fields[name]}" for name in names)
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def gateway_response(
    form: dict[str, str],
    decision: str,
    *,
    transaction_id: str = "7412345678",
    amount: str | None = None,
    key: str = SECURITY_KEY,
) -> dict[str, str]:
    """What CyberSource posts back for a form it received: req_* echoes, the decision, signed."""
    fields = {
        "decision": decision,
        "reason_code": {"ACCEPT": "100", "DECLINE": "481", "CANCEL": "", "REVIEW": "480"}.get(
            decision, "102"
        ),
        "message": f"{decision.title()} by the test gateway",
        "req_reference_number": form["reference_number"],
        "req_amount": amount if amount is not None else form["amount"],
        "req_currency": form["currency"],
        "req_transaction_uuid": form["transaction_uuid"],
        "req_profile_id": form["profile_id"],
        "req_access_key": form["access_key"],
    }
    if decision != "CANCEL":
        fields["transaction_id"] = transaction_id
    fields["signed_field_names"] = ",".join([*fields, "signed_field_names"])
    fields["signature"] = sign(fields, key)
    return fields


def shop_state() -> dict:
    """Everything checkout may write, as comparable values."""
    return {
        "orders": list(Order.objects.values().order_by("pk")),
        "lines": list(Line.objects.values().order_by("pk")),
        "redemptions": list(DiscountRedemption.objects.values().order_by("pk")),
        "enrollments": list(CourseRunEnrollment.objects.values().order_by("pk")),
        "memberships": list(ContractMembership.objects.values().order_by("pk")),
        "codes": list(Discount.objects.values().order_by("pk")),
        "basket_items": list(BasketItem.objects.values().order_by("pk")),
        "basket_codes": list(BasketDiscount.objects.values().order_by("pk")),
        "transactions": list(Transaction.objects.values().order_by("pk")),
    }
