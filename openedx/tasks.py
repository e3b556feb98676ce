"""Celery tasks of the Open edX integration: they take IDs and call one service.

Each returns the record's ``edx_status`` after the sync. The services record failures instead
of raising them, and retry what is transient themselves (with backoff), so a task never fails
the command or request whose commit queued it; an ID that names nothing is logged and skipped.
"""

import logging

from celery import shared_task

from main.exceptions import NotFoundError
from openedx import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def course_run_clone(run_id: int) -> str:
    """Create the contract run in Open edX (clone of the source run, then PATCH). Idempotent."""
    try:
        return services.course_run_sync(run_id).status
    except NotFoundError as exc:
        log.warning("course_run_clone(%s) skipped: %s", run_id, exc)
        return "missing"


@shared_task(acks_late=True)
def course_run_update(run_id: int) -> str:
    """Send a run's changed title, pacing and dates to Open edX (the PATCH). Idempotent: it
    sends the values the database holds when it runs."""
    from openedx.services import course_run_update_sync

    try:
        return course_run_update_sync(run_id).status
    except NotFoundError as exc:
        log.warning("course_run_update(%s) skipped: %s", run_id, exc)
        return "missing"


@shared_task(acks_late=True)
def enrollment_sync(enrollment_id: int) -> str:
    """Enroll the learner in the run in the Open edX LMS. Idempotent."""
    try:
        return services.enrollment_sync(enrollment_id).status
    except NotFoundError as exc:
        log.warning("enrollment_sync(%s) skipped: %s", enrollment_id, exc)
        return "missing"
