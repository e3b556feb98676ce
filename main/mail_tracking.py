"""Delivery status reported by the mail provider (SPEC §9), through django-anymail's tracking
webhooks (``/anymail/<provider>/tracking/``, signature checked by anymail with the provider's
signing key, e.g. ``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY``, or its basic-auth
``ANYMAIL_WEBHOOK_SECRET``).

``tracking_webhook`` answers only for the provider the mail goes through (``EMAIL_BACKEND``
``anymail.backends.<provider>.EmailBackend``) and only once that provider's webhook credentials
are set: anymail accepts unauthenticated posts for the providers that rely on basic auth when no
secret is set, and anyone who has read a mail's headers knows its message ID. Any other
``/anymail/...`` address is a 404.

``mail_tracking_record`` (connected to ``anymail.signals.tracking`` in ``MainConfig.ready``)
finds the mail by the provider's message ID recorded when it was sent and records
``provider_status``: ``delivered``, ``deferred``, ``bounced``, ``rejected`` or ``complained``.
Other events (opened, clicked...) are not delivery news and are ignored. An event older than the
one recorded (providers do not promise order) changes nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

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


@cache
def tracking_views() -> dict[str, Any]:
    """anymail's tracking webhook view of each provider, by the provider's name in its backend
    path (read on first use: anymail's views of every provider are not needed at start-up)."""
    from anymail import urls as anymail_urls  # loaded on first use, see above

    return {
        pattern.name.removesuffix("_tracking_webhook"): pattern.callback
        for pattern in anymail_urls.urlpatterns
        if pattern.name and pattern.name.endswith("_tracking_webhook")
    }


def mail_provider() -> str | None:
    """The anymail provider mail goes through (``"mailgun"`` for
    ``anymail.backends.mailgun.EmailBackend``), or None for Django's own backends."""
    parts = settings.EMAIL_BACKEND.split(".")
    if len(parts) == 4 and parts[:2] == ["anymail", "backends"]:
        return parts[2]
    return None


def webhook_secured(provider: str) -> bool:
    """Whether the provider's tracking posts can be authenticated: a basic-auth secret
    (``ANYMAIL_WEBHOOK_SECRET``) or the provider's own signing key or secret is set."""
    options = getattr(settings, "ANYMAIL", None) or {}
    name = provider.upper()
    return any(
        options.get(key)
        for key in ("WEBHOOK_SECRET", f"{name}_WEBHOOK_SIGNING_KEY", f"{name}_WEBHOOK_SECRET")
    )


@csrf_exempt
def tracking_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """anymail's tracking webhook of the configured provider, with its credentials set; a 404
    for any other provider, or before the credentials are set."""
    views = tracking_views()
    if provider != mail_provider() or provider not in views:
        raise Http404("No mail provider's reports are received here.")
    if not webhook_secured(provider):
        raise Http404("This provider's reports are received once its webhook secret is set.")
    response: HttpResponse = views[provider](request)
    return response
