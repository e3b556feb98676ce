"""Delivery status reported by the mail provider (SPEC §9), through django-anymail's tracking
webhooks (``/anymail/<provider>/tracking/``, signature checked by anymail with the provider's
signing key, e.g. ``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY``).

``mail_tracking_record`` (connected to ``anymail.signals.tracking`` in ``MainConfig.ready``)
finds the mail by the provider's message ID recorded when it was sent and records
``provider_status``: ``delivered``, ``deferred``, ``bounced``, ``rejected`` or ``complained``.
Other events (opened, clicked...) are not delivery news and are ignored. An event older than the
one recorded (providers do not promise order) changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from main.models import OutgoingMail

#: anymail's normalised event types → ``OutgoingMail.ProviderStatus``.
STATUSES = {
    "delivered": OutgoingMail.ProviderStatus.DELIVERED,
    "deferred": OutgoingMail.ProviderStatus.DEFERRED,
    "bounced": OutgoingMail.ProviderStatus.BOUNCED,
    "rejected": OutgoingMail.ProviderStatus.REJECTED,
    "complained": OutgoingMail.ProviderStatus.COMPLAINED,
}


def mail_tracking_record(sender: Any, event: Any, esp_name: str, **_: Any) -> int:
    """Record one tracking event (an ``anymail.signals.AnymailTrackingEvent``); returns the
    number of mails updated (0 or 1)."""
    status = STATUSES.get(event.event_type)
    if status is None or not event.message_id:
        return 0
    at = event.timestamp or timezone.now()
    return (
        OutgoingMail.objects.filter(provider_message_id=event.message_id)
        .filter(Q(provider_status_on__isnull=True) | Q(provider_status_on__lte=at))
        .update(provider_status=status, provider_status_on=at)
    )
