"""Celery tasks of the Open edX integration: they take IDs and call one service.

Each sync returns the record's ``edx_status`` after the sync. The services record failures
instead of raising them, and retry what is transient themselves (with backoff), so a task never
fails the command or request whose commit queued it; an ID that names nothing is logged and
skipped. The syncs are idempotent (a created record is left alone, a claimed one is skipped), so
they are acknowledged only once done and handed back to the broker when their worker dies
(``acks_late``, ``reject_on_worker_lost``); ``edx_syncs_requeue`` (Celery beat) queues again the
syncs whose message was lost altogether (ARCHITECTURE rule 12).
"""

import logging

from celery import shared_task
from django.conf import settings

from main.exceptions import NotFoundError
from openedx import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def course_run_clone(run_id: int) -> str:
    """Create the contract run in Open edX (clone of the source run, then PATCH). Idempotent."""
    try:
        return services.course_run_sync(run_id).status
    except NotFoundError as exc:
        log.warning("course_run_clone(%s) skipped: %s", run_id, exc)
        return "missing"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def course_run_update(run_id: int) -> str:
    """Send a run's changed title, pacing and dates to Open edX (the PATCH). Idempotent: it
    sends the values the database holds when it runs."""

    try:
        return services.course_run_update_sync(run_id).status
    except NotFoundError as exc:
        log.warning("course_run_update(%s) skipped: %s", run_id, exc)
        return "missing"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def enrollment_sync(enrollment_id: int) -> str:
    """Enroll the learner in the run in the Open edX LMS. Idempotent."""
    try:
        return services.enrollment_sync(enrollment_id).status
    except NotFoundError as exc:
        log.warning("enrollment_sync(%s) skipped: %s", enrollment_id, exc)
        return "missing"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def edx_syncs_requeue() -> dict[str, list[int]]:
    """Queue again the Open edX syncs left ``pending`` (``edx_syncs_overdue``): runs first, then
    enrollments; each message expires after ``REQUEUE_PENDING_AFTER`` seconds. Run by Celery
    beat every ``REQUEUE_PENDING_AFTER`` seconds. Returns the IDs queued:
    ``{"runs": [...], "enrollments": [...]}``."""
    runs, enrollments = services.edx_syncs_overdue()
    expires = settings.REQUEUE_PENDING_AFTER
    for run_id in runs:
        course_run_clone.apply_async((run_id,), expires=expires)
    for enrollment_id in enrollments:
        enrollment_sync.apply_async((enrollment_id,), expires=expires)
    if runs or enrollments:
        log.warning(
            "Open edX syncs pending for over %g s queued again: runs %s, enrollments %s",
            expires,
            runs,
            enrollments,
        )
    return {"runs": runs, "enrollments": enrollments}
