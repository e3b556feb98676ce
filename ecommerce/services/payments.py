"""The payment gateway: CyberSource Secure Acceptance (hosted checkout) with signed fields.

Signing and checking signatures is ``mitol-django-payment-gateway``'s (HMAC-SHA256 over the
fields named in ``signed_field_names``, with the profile's security key, base64). This module
builds the signed form for a pending order and reads a signed callback; what the callback does to
the order is ``ecommerce.services.checkout.payment_response_apply``'s.

Settings (all from the environment, see the README): ``MITOL_PAYMENT_GATEWAY_CYBERSOURCE_*``
(access key, profile ID, security key, Secure Acceptance URL), ``ORDER_REFERENCE_PREFIX``,
``SITE_BASE_URL`` (the callbacks' base).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.urls import reverse

from ecommerce.exceptions import InvalidPaymentResponse
from ecommerce.models import Order

GATEWAY = "CyberSource"

#: Decisions of a Secure Acceptance response (its ``decision`` field).
ACCEPT, DECLINE, CANCEL, ERROR, REVIEW = "ACCEPT", "DECLINE", "CANCEL", "ERROR", "REVIEW"

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
    match = re.fullmatch(rf"{re.escape(settings.ORDER_REFERENCE_PREFIX)}-(\d{{1,18}})", reference)
    if match is None:
        raise InvalidPaymentResponse(f"The reference number {reference!r} is not one of ours.")
    return int(match.group(1))


def _callback_url(name: str) -> str:
    return f"{settings.SITE_BASE_URL}{reverse(name)}"


def order_payment_form(order: Order, *, ip_address: str = "") -> PaymentForm:
    """The signed Secure Acceptance form for a pending order: one line item per order line at
    its discounted price, in USD; the learner is identified by a hash of their username (the
    library's choice). The receipt and cancel pages are ``/checkout/result/``; the gateway's
    server-to-server post goes to ``/checkout/backoffice/``.
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
            name=line.product.description,
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
        ip_address=ip_address,
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
    """A checked gateway response: the decision, our order's ID, the gateway's transaction."""

    decision: str
    order_id: int
    transaction_id: str
    amount: Decimal | None
    message: str
    fields: dict[str, str]


def payment_response_read(fields: Mapping[str, str]) -> PaymentResponse:
    """Check a Secure Acceptance response's signature and read it.

    Raises ``InvalidPaymentResponse`` when payments are not configured, when the signature or a
    signed field is missing, when the signature does not match (the fields were not signed with
    our security key, or were altered), or when the reference number is not one of ours.
    """
    from mitol.payment_gateway.api import PaymentGateway  # late: see order_payment_form

    if not payments_configured():
        raise InvalidPaymentResponse("Payments are not configured on this site.")
    data = {str(key): str(value) for key, value in fields.items()}
    signed = [name for name in data.get("signed_field_names", "").split(",") if name]
    if not data.get("signature") or not signed:
        raise InvalidPaymentResponse("The payment response is not signed.")
    missing = [name for name in signed if name not in data]
    if missing:
        raise InvalidPaymentResponse(f"The payment response lacks signed fields: {missing}.")
    request = SimpleNamespace(method="POST", data=data)
    if not PaymentGateway.validate_processor_response(GATEWAY, request):
        raise InvalidPaymentResponse("The payment response's signature does not match.")
    if "req_reference_number" not in signed:
        raise InvalidPaymentResponse("The payment response does not sign its reference number.")
    decoded = PaymentGateway.get_formatted_response(GATEWAY, request)
    amount = None
    if data.get("req_amount"):
        try:
            amount = Decimal(data["req_amount"])
        except InvalidOperation:
            raise InvalidPaymentResponse("The payment response's amount is not a number.") from None
    return PaymentResponse(
        decision=decoded.state,
        order_id=order_id_from_reference(data["req_reference_number"]),
        transaction_id=decoded.transaction_id or "",
        amount=amount,
        message=decoded.message or "",
        fields=data,
    )
