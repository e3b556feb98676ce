"""Celery tasks of the Open edX integration: they take IDs and call one service."""

from celery import shared_task


@shared_task(acks_late=True)
def course_run_clone(run_id: int) -> str:
    """Create the contract run in Open edX (clone of the source run, then PATCH). Idempotent."""
    from openedx.services import course_run_sync

    return course_run_sync(run_id)


@shared_task(acks_late=True)
def enrollment_sync(enrollment_id: int) -> str:
    """Enroll the learner in the run in the Open edX LMS. Idempotent."""
    from openedx.services import enrollment_sync as sync

    return sync(enrollment_id)
