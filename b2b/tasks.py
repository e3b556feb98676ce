"""Celery tasks of the b2b app: they take primitive IDs and call one service.

The code adjustment is idempotent, so it is acknowledged only once done and handed back to the
broker when its worker dies (``acks_late``, ``reject_on_worker_lost``); a message lost
altogether is made up for by ``codes_adjust_requeue`` (Celery beat), from the contract's marker
(ARCHITECTURE rule 12).
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from b2b.services.alerts import contract_alerts_send
from b2b.services.assignment_actions import assignments_remind_due
from b2b.services.codes import codes_adjust_and_record
from b2b.services.codes_pending import codes_pending_overdue

log = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)
def contract_codes_adjust(contract_id: int) -> str:
    """Adjust a contract's enrollment codes (SPEC §4) and record what changed in its audit trail.
    Idempotent; retried on database errors that pass (a lost connection, a lock timeout).
    Returns the summary line."""
    return codes_adjust_and_record(contract_id).summary()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def codes_adjust_requeue() -> list[int]:
    """Queue the code adjustment again for every contract whose marker is older than
    ``REQUEUE_PENDING_AFTER`` seconds (``codes_pending_overdue``), oldest first; each message
    expires after that long. Run by Celery beat every ``REQUEUE_PENDING_AFTER`` seconds.
    Returns the contract IDs queued."""
    overdue = list(codes_pending_overdue())
    for contract_id in overdue:
        contract_codes_adjust.apply_async((contract_id,), expires=settings.REQUEUE_PENDING_AFTER)
    if overdue:
        log.warning(
            "Code adjustments pending for over %g s queued again: contracts %s",
            settings.REQUEUE_PENDING_AFTER,
            overdue,
        )
    return overdue


@shared_task(acks_late=True, reject_on_worker_lost=True)
def seats_remind() -> int:
    """Remind the open seat assignments that are due (``SEAT_REMINDER_AFTER_DAYS`` since their
    last mail, fewer than ``SEAT_REMINDER_MAX`` reminders so far): Celery beat runs it
    (``SEAT_REMINDER_EVERY`` seconds). Idempotent. Returns how many were reminded."""
    return assignments_remind_due(
        after_days=settings.SEAT_REMINDER_AFTER_DAYS, max_reminders=settings.SEAT_REMINDER_MAX
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def contract_alerts() -> int:
    """Mail the seat and end-date alerts that are due (``b2b.services.alerts``); Celery beat runs
    it every ``CONTRACT_ALERTS_EVERY`` seconds. Idempotent. Returns the mails queued."""
    return contract_alerts_send()
