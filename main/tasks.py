"""Celery tasks of the ground floor: outgoing mail (``main.mail``). Each takes IDs and calls one
service, which it imports when it runs (the service module queues these tasks)."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None)
def mail_send(self, mail_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one queued mail (``main.mail.mail_deliver``); returns its status. Idempotent: a mail
    already sent, or being sent by another worker, is not sent again. A failed attempt is
    retried by Celery after the backoff the service gives; with Celery eager (no broker) the
    mail stays queued with its error for ``mail_requeue``. An unknown ID is logged and
    skipped."""
    from main.mail import mail_deliver
    from main.models import OutgoingMail

    try:
        delivery = mail_deliver(mail_id)
    except OutgoingMail.DoesNotExist:
        log.warning("mail_send(%s) skipped: no such mail.", mail_id)
        return "missing"
    if delivery.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.status


@shared_task(acks_late=True)
def mail_requeue() -> int:
    """Periodic (Celery beat): queue again the mails whose send is overdue
    (``main.mail.mail_requeue``); returns how many."""
    from main.mail import mail_requeue as requeue

    return requeue()
