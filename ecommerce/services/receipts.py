"""Receipts: every fulfilled order, free or paid, mails its purchaser a receipt (issue: learners
hear from the product; SPEC §9 outgoing mail).

``order_receipt_queue`` is called once where an order becomes fulfilled (a zero-total checkout,
an accepted payment). The receipt is rendered at once (order number, date, each course with its
organization, the amount paid) and queued through ``main.mail`` in the fulfilment's transaction:
it goes out after the commit, never for an order whose fulfilment rolled back, and at most once
per order (its mail key ``receipt:order:<id>``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from ecommerce.models import Order
from ecommerce.services.payments import order_reference
from main.mail import mail_queue, site_url
from main.models import OutgoingMail

log = logging.getLogger(__name__)

RECEIPT_TEMPLATE = "ecommerce/mail/receipt"


@dataclass(frozen=True)
class ReceiptLine:
    """One course on the receipt: its title, the organization it comes through (empty for a
    course outside any contract) and what was paid for it."""

    title: str
    organization: str
    amount: Decimal


def order_receipt_queue(
    order: Order, *, new: bool = False, lines: list[ReceiptLine] | None = None
) -> OutgoingMail | None:
    """Queue the receipt of ``order`` (fulfilled) to its purchaser's email; once per order.

    Returns the mail (the existing one if the order's receipt was queued before), or ``None``
    when the purchaser has no email address (logged; nothing to send to). ``new``: the order was
    made in the current transaction, so no receipt of it can exist yet (``mail_queue``'s
    ``new``: no statement looks for one). ``lines``: the receipt's lines when the caller has
    them at hand (checkout, which just wrote the order's one line); read from the order if not.
    """
    purchaser = order.purchaser
    if not purchaser.email:
        log.warning("Order %s: its purchaser %s has no email, no receipt.", order.pk, purchaser)
        return None
    lines = (
        lines
        if lines is not None
        else [
            ReceiptLine(
                title=line.product.course_run.title,
                organization=(
                    contract.organization.name
                    if (contract := line.product.course_run.b2b_contract) is not None
                    else ""
                ),
                amount=line.discounted_price * line.quantity,
            )
            for line in order.lines.select_related(
                "product__course_run__b2b_contract__organization"
            ).order_by("pk")
        ]
    )
    return mail_queue(
        purchaser.email,
        template=RECEIPT_TEMPLATE,
        context={
            "name": purchaser.get_full_name(),
            "number": order_reference(order.pk),
            "date": timezone.localtime(order.updated_on),
            "lines": lines,
            "total": order.total_price_paid,
            "my_courses_url": site_url("/dashboard/"),
        },
        user=purchaser,
        key=f"receipt:order:{order.pk}",
        new=new,
    )
