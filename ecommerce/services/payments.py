"""The payment gateway: CyberSource Secure Acceptance (hosted checkout) with signed fields.

Signing is ``mitol-django-payment-gateway``'s: HMAC-SHA256 over ``name=value`` pairs joined by
``,`` in the order of ``signed_field_names``, keyed with the profile's security key, base64. This
module builds the signed form for a pending order and reads a signed callback; what the callback
does to the order is ``ecommerce.services.checkout.payment_response_apply``'s.

The request and the response are signed with the same key in the same format, so a signed text
can be read as other fields when a value holds ``,`` or ``=``. Two rules keep the two apart
(README "Security"):

- what we send: every signed value we build holds no ``,``, ``=`` or control character
  (``gateway_text`` cleans the item names, the only free text; the settings that reach signed
  fields are checked at start-up in ``main.settings``);
- what we accept: a response must sign ``signed_field_names`` itself and the gateway's own
  fields (``RESPONSE_SIGNED``, plus ``auth_amount`` when accepted), may sign no field of a
  request (``field_is_request_only``), and its names are plain ``[a-z0-9_]`` words. A signed
  request always starts ``access_key=``, so no reading of one can pass as a response.

Settings (all from the environment, see the README): ``MITOL_PAYMENT_GATEWAY_CYBERSOURCE_*``
(access key, profile ID, security key, Secure Acceptance URL), ``ORDER_REFERENCE_PREFIX``,
``SITE_BASE_URL`` (the callbacks' base).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse

from ecommerce.exceptions import InvalidPaymentResponse
from ecommerce.models import Order

log = logging.getLogger(__name__)

GATEWAY = "CyberSource"

#: The currency of every order (the library's form asks for USD).
CURRENCY = "USD"

#: Decisions of a Secure Acceptance response (its ``decision`` field).
ACCEPT, DECLINE, CANCEL, ERROR, REVIEW = "ACCEPT", "DECLINE", "CANCEL", "ERROR", "REVIEW"
DECISIONS = (ACCEPT, DECLINE, CANCEL, ERROR, REVIEW)

#: What every gateway response signs; a response that does not sign one of these is refused.
RESPONSE_SIGNED = (
    "signed_field_names",
    "decision",
    "req_reference_number",
    "req_amount",
    "req_currency",
    "transaction_id",
)
#: What an accepted payment signs as well: the amount the card was charged.
ACCEPT_SIGNED = ("auth_amount",)

#: The fields of the form we sign (``order_payment_form``) that a response never carries: the
#: gateway echoes them as ``req_<name>``. ``signed_field_names`` and ``signed_date_time`` are in
#: both. ``test_every_field_our_form_signs_is_refused_in_a_response`` keeps this in step with the
#: library's form.
REQUEST_ONLY = frozenset(
    {
        "access_key",
        "amount",
        "consumer_id",
        "currency",
        "customer_ip_address",
        "line_item_count",
        "locale",
        "profile_id",
        "reference_number",
        "tax_amount",
        "transaction_type",
        "transaction_uuid",
        "unsigned_field_names",
    }
)
_REQUEST_ONLY_FAMILIES = re.compile(r"item_[0-9]+_[a-z_]+|merchant_defined_data[0-9]+|override_\w+")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
#: Amounts as the form sends them and the gateway echoes them: digits, a point, two decimals.
_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,11})\.[0-9]{2}", re.ASCII)

#: The longest item name we send (CyberSource's ``item_#_name`` holds 255 characters).
ITEM_NAME_MAX = 254

REQUIRED_SETTINGS = (
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURITY_KEY",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL",
)


def payments_configured() -> bool:
    """True when every CyberSource setting a payment needs is set."""
    return all(getattr(settings, name, "") for name in REQUIRED_SETTINGS)


@dataclass(frozen=True)
class PaymentForm:
    """What the learner's browser posts to the gateway: ``fields`` (all strings) to ``url``."""

    url: str
    method: str
    fields: dict[str, str]


def order_reference(order_id: int) -> str:
    """``<ORDER_REFERENCE_PREFIX>-<order id>``: what the gateway knows the order by."""
    return f"{settings.ORDER_REFERENCE_PREFIX}-{order_id}"


def order_id_from_reference(reference: str) -> int:
    """The order ID in a reference of ours; ``InvalidPaymentResponse`` for anyone else's."""
    match = re.fullmatch(
        rf"{re.escape(settings.ORDER_REFERENCE_PREFIX)}-([0-9]{{1,18}})", reference, re.ASCII
    )
    if match is None:
        raise InvalidPaymentResponse(f"The reference number {reference!r} is not one of ours.")
    return int(match.group(1))


def gateway_text(value: str, *, limit: int) -> str:
    """Free text made safe for a signed field: NFKC-normalised, without control or format
    characters (zero-width, bidirectional), ``,`` and ``=`` (the signed text's separators)
    replaced by spaces, white space collapsed, at most ``limit`` characters.

    ``"Acme,req_amount=1.00\\u200b - Data"`` → ``"Acme req_amount 1.00 - Data"``.
    """
    text = unicodedata.normalize("NFKC", value)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in ",=" or category in ("Zl", "Zp") or char.isspace():
            kept.append(" ")
        elif category[0] != "C":  # Cc control, Cf format, Cs/Co/Cn: never in a name
            kept.append(char)
    return " ".join("".join(kept).split())[:limit].rstrip()


def _ip_address(value: str) -> str:
    """The learner's address as the gateway wants it, or "" when it is not an IP address."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def _callback_url(name: str) -> str:
    return f"{settings.SITE_BASE_URL}{reverse(name)}"


def order_payment_form(order: Order, *, ip_address: str = "") -> PaymentForm:
    """The signed Secure Acceptance form for a pending order: one line item per order line at
    its discounted price, in USD; the learner is identified by a hash of their username (the
    library's choice). Item names are the products' descriptions through ``gateway_text``. The
    receipt and cancel pages are ``/checkout/result/``; the gateway's server-to-server post goes
    to ``/checkout/backoffice/``.
    """
    # Imported when a payment is made, not at start-up: the CyberSource SDK under the gateway
    # takes about 2 s to import on this machine, which every command, worker and test process
    # would otherwise pay. Not a cycle: mitol imports nothing of ours.
    from mitol.payment_gateway.api import PaymentGateway
    from mitol.payment_gateway.dataclasses import CartItem
    from mitol.payment_gateway.dataclasses import Order as GatewayOrder

    items = [
        CartItem(
            code="course-run",
            name=gateway_text(line.product.description, limit=ITEM_NAME_MAX),
            sku=str(line.product_id),
            unitprice=line.discounted_price,
            quantity=line.quantity,
            taxable=Decimal("0.00"),
        )
        for line in order.lines.select_related("product").order_by("pk")
    ]
    gateway_order = GatewayOrder(
        username=order.purchaser.get_username(),
        email=getattr(order.purchaser, "email", None),
        ip_address=_ip_address(ip_address),
        reference=order.reference_number or order_reference(order.pk),
        items=items,  # type: ignore[arg-type]
    )
    prepared: dict[str, Any] = PaymentGateway.start_payment(
        GATEWAY,
        gateway_order,
        _callback_url("checkout-result"),
        _callback_url("checkout-result"),
        backoffice_post_url=_callback_url("checkout-backoffice"),
    )
    # Every value as the browser will post it; str() is also what the signature was computed on.
    fields = {name: str(value) for name, value in prepared["payload"].items()}
    return PaymentForm(url=prepared["url"], method=prepared["method"], fields=fields)


@dataclass(frozen=True)
class PaymentResponse:
    """A verified gateway response: the decision, our order's ID, the gateway's transaction, the
    amount and currency it is for (``auth_amount``: what was charged, accepted payments only),
    and ``fields``: the signed fields and the signature, so a record can be verified again
    (nothing unsigned is kept or acted on)."""

    decision: str
    order_id: int
    transaction_id: str
    amount: Decimal
    currency: str
    auth_amount: Decimal | None
    message: str
    fields: dict[str, str]


def field_is_request_only(name: str) -> bool:
    """True for a field only our signed request carries (``REQUEST_ONLY``, ``item_<n>_*``,
    ``merchant_defined_data<n>``, ``override_*``): a response signing one is refused."""
    return name in REQUEST_ONLY or _REQUEST_ONLY_FAMILIES.fullmatch(name) is not None


def _signature(data: Mapping[str, str]) -> str:
    """The library's signature of ``data`` (over its ``signed_field_names``), computed by the
    same code that signs our forms. The library's own check compares with ``==``, which leaks
    timing; ``payment_response_read`` compares with ``hmac.compare_digest`` instead."""
    from mitol.payment_gateway.api import PaymentGateway  # late: see order_payment_form

    gateway = PaymentGateway.get_gateway_class(GATEWAY)
    return gateway._generate_cybersource_sa_signature(data)


def _amount(data: Mapping[str, str], name: str) -> Decimal:
    text = data[name]
    if _AMOUNT.fullmatch(text) is None:
        raise InvalidPaymentResponse(
            f"The payment response's {name} {text[:20]!r} is not an amount like 100.00."
        )
    return Decimal(text)


def payment_response_read(fields: Mapping[str, str]) -> PaymentResponse:
    """Verify a Secure Acceptance response and read it (SPEC §5; README "Security").

    Accepted only when: payments are configured; the response has a ``signature`` and a
    ``signed_field_names`` of distinct ``[a-z0-9_]`` names that lists itself and
    ``RESPONSE_SIGNED`` (and ``auth_amount`` for ``ACCEPT``), every one of them posted; no name
    is a request's (``field_is_request_only``); the HMAC over those fields with our security key
    equals the signature (constant-time); the decision is one of ``DECISIONS``; the reference is
    ours; the amounts read as ``digits.dd``. Anything else raises ``InvalidPaymentResponse``
    with a message naming what is wrong. Whether the amount and currency are the order's is
    ``payment_response_check``'s (it needs the order).
    """
    if not payments_configured():
        raise InvalidPaymentResponse("Payments are not configured on this site.")
    data = {str(key): str(value) for key, value in fields.items()}
    listed = data.get("signed_field_names", "")
    signed = listed.split(",") if listed else []
    if not data.get("signature") or not signed:
        raise InvalidPaymentResponse("The payment response is not signed.")
    malformed = [name for name in signed if _FIELD_NAME.fullmatch(name) is None]
    if malformed or len(set(signed)) != len(signed):
        raise InvalidPaymentResponse(
            "The payment response's signed_field_names is not a list of distinct field names."
        )
    request_only = sorted(name for name in signed if field_is_request_only(name))
    if request_only:
        raise InvalidPaymentResponse(
            "The payment response signs fields of a payment request "
            f"({', '.join(request_only[:5])}): it is not the gateway's response."
        )
    unsigned = [name for name in RESPONSE_SIGNED if name not in signed]
    if unsigned:
        raise InvalidPaymentResponse(f"The payment response does not sign {', '.join(unsigned)}.")
    missing = [name for name in signed if name not in data]
    if missing:
        raise InvalidPaymentResponse(
            f"The payment response lacks signed fields: {', '.join(missing[:5])}."
        )
    expected = _signature(data)
    if not hmac.compare_digest(expected.encode(), data["signature"].encode()):
        raise InvalidPaymentResponse("The payment response's signature does not match.")
    decision = data["decision"]
    if decision not in DECISIONS:
        raise InvalidPaymentResponse(
            f"The payment response's decision {decision[:20]!r} is unknown."
        )
    if decision == ACCEPT and any(name not in signed for name in ACCEPT_SIGNED):
        raise InvalidPaymentResponse(
            f"The accepted payment response does not sign {', '.join(ACCEPT_SIGNED)}."
        )
    if not data["transaction_id"]:
        raise InvalidPaymentResponse("The payment response names no transaction.")
    order_id = order_id_from_reference(data["req_reference_number"])
    amount = _amount(data, "req_amount")
    auth_amount = _amount(data, "auth_amount") if decision == ACCEPT else None
    return PaymentResponse(
        decision=decision,
        order_id=order_id,
        transaction_id=data["transaction_id"],
        amount=amount,
        currency=data["req_currency"],
        auth_amount=auth_amount,
        message=data["message"] if "message" in signed else "",
        fields={**{name: data[name] for name in signed}, "signature": data["signature"]},
    )


def payment_response_check(response: PaymentResponse, order: Order) -> None:
    """Refuse (``InvalidPaymentResponse``) a verified response whose amount or currency is not
    exactly the order's: ``req_amount`` (and, accepted, ``auth_amount``) must equal
    ``order.total_price_paid`` and ``req_currency`` must be ``CURRENCY``. A mismatched accepted
    payment is logged as an error naming the transaction, for an operator to refund.
    """
    wrong = []
    if response.amount != order.total_price_paid:
        wrong.append(f"amount {response.amount}")
    if response.auth_amount is not None and response.auth_amount != order.total_price_paid:
        wrong.append(f"charged amount {response.auth_amount}")
    if response.currency != CURRENCY:
        wrong.append(f"currency {response.currency[:10]!r}")
    if not wrong:
        return
    if response.decision == ACCEPT:
        log.error(
            "Payment %s accepted for order %s with %s, the order is %s %s: refused; refund it.",
            response.transaction_id,
            order.pk,
            ", ".join(wrong),
            order.total_price_paid,
            CURRENCY,
        )
    raise InvalidPaymentResponse(
        f"The payment response is for {', '.join(wrong)}; order {order.pk} is "
        f"{order.total_price_paid} {CURRENCY}."
    )
