"""Helpers for the cart and checkout tests: the gateway's side of CyberSource Secure Acceptance,
and snapshots of everything a refused checkout must leave as it was."""

import base64
import hashlib
import hmac
from html.parser import HTMLParser

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


#: What a request signs that its response does not echo as ``req_<name>``.
_NOT_ECHOED = {"signed_field_names", "signed_date_time", "unsigned_field_names", "signature"}


def gateway_response(
    form: dict[str, str],
    decision: str,
    *,
    transaction_id: str = "7412345678",
    amount: str | None = None,
    auth_amount: str | None = None,
    key: str = SECURITY_KEY,
) -> dict[str, str]:
    """What CyberSource posts back for a form it received, signed as it signs it: the
    transaction, the decision, every request field echoed as ``req_<name>``, the message and
    reason, ``auth_amount`` when accepted, then ``signed_field_names`` and ``signed_date_time``.
    ``amount`` / ``auth_amount`` replace the echoed and the charged amounts."""
    fields = {"transaction_id": transaction_id, "decision": decision}
    echoed = [name for name in form["signed_field_names"].split(",") if name not in _NOT_ECHOED]
    fields.update({f"req_{name}": form[name] for name in echoed})
    if amount is not None:
        fields["req_amount"] = amount
    fields["message"] = f"{decision.title()} by the test gateway"
    fields["reason_code"] = {"ACCEPT": "100", "DECLINE": "481", "CANCEL": "", "REVIEW": "480"}.get(
        decision, "102"
    )
    if decision == "ACCEPT":
        fields["auth_amount"] = auth_amount if auth_amount is not None else fields["req_amount"]
    fields["signed_field_names"] = ""
    fields["signed_date_time"] = "2030-01-02T03:04:05Z"
    return signed(fields, key=key)


def signed(fields: dict[str, str], key: str = SECURITY_KEY) -> dict[str, str]:
    """``fields`` with every one of them listed in ``signed_field_names`` (``signed_field_names``
    included, in place) and signed with ``key``."""
    names = [name for name in fields if name != "signature"]
    fields = {**fields, "signed_field_names": ",".join(names)}
    fields.pop("signature", None)
    return {**fields, "signature": sign(fields, key)}


def signed_without(fields: dict[str, str], *names: str) -> dict[str, str]:
    """A response re-signed over every field but ``names``: those stay posted, unsigned."""
    kept = [n for n in fields["signed_field_names"].split(",") if n not in names]
    out = {**fields, "signed_field_names": ",".join(kept)}
    out["signature"] = sign(out)
    return out


def resplit(form: dict[str, str], names: list[str]) -> dict[str, str] | None:
    """The forgery of a signed request: its signed text ``name=value,...`` read as the fields
    ``names`` in that order (each value runs to the next ``,<name>=``, the last to the end),
    posted with the request's own signature and those names as ``signed_field_names`` (not
    itself signed). None when the text cannot be read so."""
    text = ",".join(f"{name}={form[name]}" for name in form["signed_field_names"].split(","))
    fields = {}
    for position, name in enumerate(names):
        if not text.startswith(f"{name}="):
            return None
        text = text[len(name) + 1 :]
        if position == len(names) - 1:
            fields[name] = text
            break
        cut = text.find(f",{names[position + 1]}=")
        if cut < 0:
            return None
        fields[name], text = text[:cut], text[cut + 1 :]
    return {**fields, "signed_field_names": ",".join(names), "signature": form["signature"]}


class _PaymentForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.inside = attributes.get("id") == "payment-form"
        elif self.inside and tag == "input" and attributes.get("type") == "hidden":
            self.fields[attributes.get("name") or ""] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def payment_form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the page's payment form, by name, as the browser posts them."""
    parser = _PaymentForm()
    parser.feed(page)
    return parser.fields


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
