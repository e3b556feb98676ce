"""Sending one queued mail, and finding the mails whose send is overdue (SPEC §9).

``main.mail`` renders and records a mail and queues ``main.tasks.mail_send``; the task calls
``mail_deliver`` here. The rules of a send (the claim that makes a send happen once, the backoff,
what counts as a permanent error) are in ``main.mail``'s docstring. This module imports neither
``main.mail`` nor ``main.tasks``: the task imports it, and ``main.mail`` imports the task.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.utils import timezone

from main.models import OutgoingMail

log = logging.getLogger(__name__)

QUEUED, SENT, FAILED = (
    OutgoingMail.Status.QUEUED,
    OutgoingMail.Status.SENT,
    OutgoingMail.Status.FAILED,
)

#: How long a worker holds a mail it is sending; past it, another may send it.
HOLD = dt.timedelta(minutes=5)
#: How long past its due time a queued mail waits for its own task before ``mail_requeue``
#: queues it again (a Celery retry is due at ``next_attempt_on`` exactly).
REQUEUE_GRACE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Delivery:
    """What one run of ``mail_deliver`` did: the mail's ``status`` after it, its ``attempts``,
    and ``retry_in`` (seconds) when a failed attempt is to be tried again."""

    mail_id: int
    status: str
    attempts: int
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...):
    ``MAIL_RETRY_BACKOFF * 2**(attempts-1)``, at most ``MAIL_RETRY_BACKOFF_MAX``."""
    return float(
        min(
            settings.MAIL_RETRY_BACKOFF_MAX,
            settings.MAIL_RETRY_BACKOFF * 2 ** max(attempts - 1, 0),
        )
    )


def mail_deliver(mail_id: int) -> Delivery:
    """Send mail ``mail_id`` once (module docstring): claim it, send it through the configured
    backend, record the outcome. A mail already sent, failed for good, or held by another
    worker is left alone (its status is returned). Never raises for a failed send: the error is
    recorded, and ``retry_in`` says when to try again (``None``: sent, or given up).
    Raises ``OutgoingMail.DoesNotExist`` for an unknown ID."""
    now = timezone.now()
    claimed = (
        OutgoingMail.objects.filter(pk=mail_id, status=QUEUED)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + HOLD, attempts=F("attempts") + 1, updated_on=now)
    )
    mail = OutgoingMail.objects.get(pk=mail_id)
    if not claimed:
        return Delivery(mail.pk, mail.status, mail.attempts)
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.body_text,
        from_email=mail.from_email,
        to=[mail.to],
    )
    if mail.body_html:
        message.attach_alternative(mail.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:  # any backend's failure is recorded, never raised to the caller
        return _failed(mail, exc)
    provider_id = _provider_message_id(message)
    update: dict[str, Any] = {
        "status": SENT,
        "sent_on": timezone.now(),
        "locked_until": None,
        "next_attempt_on": None,
        "last_error": "",
        "updated_on": timezone.now(),
    }
    if provider_id:
        update["provider_message_id"] = provider_id
    OutgoingMail.objects.filter(pk=mail.pk).update(**update)
    log.info("Mail %s (%s) sent to %s.", mail.pk, mail.template, mail.to)
    return Delivery(mail.pk, SENT, mail.attempts)


def _failed(mail: OutgoingMail, exc: Exception) -> Delivery:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = _is_permanent(exc)
    give_up = permanent or mail.attempts >= settings.MAIL_MAX_ATTEMPTS
    now = timezone.now()
    delay = None if give_up else retry_delay(mail.attempts)
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=FAILED if give_up else QUEUED,
        last_error=error,
        locked_until=None,
        next_attempt_on=None if delay is None else now + dt.timedelta(seconds=delay),
        updated_on=now,
    )
    if give_up:
        log.error(
            "Mail %s (%s) to %s failed after %s attempt(s)%s: %s",
            mail.pk,
            mail.template,
            mail.to,
            mail.attempts,
            " (a permanent error)" if permanent else "",
            error,
        )
        return Delivery(mail.pk, FAILED, mail.attempts)
    log.warning(
        "Mail %s (%s) to %s: attempt %s failed, next in %ss: %s",
        mail.pk,
        mail.template,
        mail.to,
        mail.attempts,
        delay,
        error,
    )
    return Delivery(mail.pk, QUEUED, mail.attempts, retry_in=delay)


def _is_permanent(exc: Exception) -> bool:
    """An error that sending again cannot fix: the server's 5xx reply, every recipient refused
    for good, a provider refusing the recipients."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return type(exc).__name__ == "AnymailRecipientsRefused"


def _provider_message_id(message: EmailMultiAlternatives) -> str:
    """The provider's ID of the sent message (django-anymail sets ``anymail_status``)."""
    message_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
    return "" if message_id is None else str(message_id)[:255]


def mail_overdue(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """The queued mails overdue by ``REQUEUE_GRACE`` and not held by a worker (their task was
    lost, or a retry is late), oldest first, at most ``limit``: their IDs. One query."""
    now = now or timezone.now()
    return list(
        OutgoingMail.objects.filter(status=QUEUED, next_attempt_on__lte=now - REQUEUE_GRACE)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_on", "pk")
        .values_list("pk", flat=True)[:limit]
    )
