"""Celery tasks of the ground floor: outgoing mail. ``main.mail`` renders, records and queues a
mail (it imports these tasks); each task takes IDs and calls ``main.mail_delivery``, which imports
neither, so there is no cycle."""

import logging

from celery import shared_task

from main.mail_delivery import mail_deliver, mail_overdue
from main.models import OutgoingMail

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def mail_send(self, mail_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one queued mail (``main.mail_delivery.mail_deliver``); returns its status.
    Idempotent: a mail already sent, or being sent by another worker, is not sent again. A failed
    attempt is retried by Celery after the backoff the service gives; with Celery eager (no
    broker) the mail stays queued with its error for ``mail_requeue``. An unknown ID is logged
    and skipped."""
    try:
        delivery = mail_deliver(mail_id)
    except OutgoingMail.DoesNotExist:
        log.warning("mail_send(%s) skipped: no such mail.", mail_id)
        return "missing"
    if delivery.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def mail_requeue() -> int:
    """Periodic (Celery beat): queue the send again for the mails whose send is overdue
    (``main.mail_delivery.mail_overdue``: their task was lost, or a retry is late); returns how
    many. Idempotent: ``mail_send`` sends each mail once whatever the number of deliveries."""
    ids = mail_overdue()
    for mail_id in ids:
        mail_send.delay(mail_id)
    if ids:
        log.info("Re-queued %s unsent mail(s).", len(ids))
    return len(ids)
