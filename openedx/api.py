"""The Open edX integration's entry points (SPEC §8). Off unless all four settings are set.

Other apps call only these functions: they record the edX state of a run or an enrollment and,
when edX is configured, queue the Celery task that brings edX in line after the commit.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from django.conf import settings

from courses.enrollments import UNREAD, EnrollmentWrite, enrollment_activate
from courses.models import CourseRun, CourseRunEnrollment, EdxStatus
from main.models import User
from main.queue import enqueue_on_commit
from openedx.config import REQUIRED_SETTINGS, edx_configured, edx_missing_settings
from openedx.tasks import course_run_clone, course_run_update, enrollment_sync

__all__ = [
    "REQUIRED_SETTINGS",
    "courseware_url",
    "course_run_edx_queue",
    "course_run_edx_update_queue",
    "edx_configured",
    "edx_missing_settings",
    "enrollment_edx_queue",
    "enrollment_enroll",
]

log = logging.getLogger(__name__)

_off_logged = False


def _log_off_once() -> None:
    """The one log line a process writes when edX is off (SPEC §8 "Not configured")."""
    global _off_logged
    if not _off_logged:
        _off_logged = True
        log.info(
            "Open edX integration off (unset: %s): runs and enrollments are kept here only, "
            "with edx_status not-configured.",
            ", ".join(edx_missing_settings()),
        )


def course_run_edx_queue(run: CourseRun) -> str:
    """After a contract run is created: mark it and, with edX configured, queue its re-run.

    The run records the key of its course's source run (``edx_source_key``), the run Studio
    clones it from, now or in a later ``sync-edx`` when edX is configured afterwards.
    Returns the run's new ``edx_status``: ``pending`` (queued on commit) or ``not-configured``.
    """
    update_fields = ["edx_status", "updated_on"]
    if not run.edx_source_key:
        source_key = (
            CourseRun.objects.filter(course_id=run.course_id, is_source_run=True)
            .values_list("courseware_id", flat=True)
            .first()
        )
        if source_key:
            run.edx_source_key = source_key
            update_fields.append("edx_source_key")
    if not edx_configured():
        _log_off_once()
        status = EdxStatus.NOT_CONFIGURED
    else:
        status = EdxStatus.PENDING
        enqueue_on_commit(course_run_clone, run.pk)
    if run.edx_status != status or len(update_fields) > 2:
        run.edx_status = status
        run.save(update_fields=update_fields)
    return status


def course_run_edx_update_queue(run: CourseRun) -> bool:
    """After a run's title, pacing or dates changed here: with edX configured, queue on commit
    the PATCH that sends them to Studio (``openedx.services.course_run_update_sync``, the same
    request as the run's creation). Only runs created here (``edx_source_key`` set) are sent;
    a run not in Studio yet gets the current values from its creation. Returns whether a task
    was queued."""
    if not run.edx_source_key:
        return False
    if not edx_configured():
        _log_off_once()
        return False
    enqueue_on_commit(course_run_update, run.pk)
    return True


def _enrollment_edx_status() -> str:
    if edx_configured():
        return EdxStatus.PENDING
    _log_off_once()
    return EdxStatus.NOT_CONFIGURED


def courseware_url(courseware_id: str) -> str | None:
    """Where a learner opens a course run in the LMS: ``<OPENEDX_LMS_URL>/courses/<key>/course/``,
    the key percent-encoded as one path segment (``+`` as ``%2B``, so no server or proxy reads it
    as a space; ``:`` kept, as a path allows it). None when no LMS address is set."""
    base = settings.OPENEDX_LMS_URL
    if not base:
        return None
    return f"{base}/courses/{quote(courseware_id, safe=':')}/course/"


def enrollment_enroll(user: User, *, run: CourseRun, existing: Any = UNREAD) -> EnrollmentWrite:
    """Enroll ``user`` in ``run`` and follow it up in Open edX: the one call every way into a run
    makes (contract rules, public enrollment, public checkout).

    Writes through ``courses.enrollments.enrollment_activate`` (create or reactivate; see it for
    ``existing`` and ``AlreadyEnrolled``), with ``edx_status`` ``pending`` when edX is configured
    (``not-configured`` otherwise), and, when the enrollment was created or reactivated, queues
    the LMS enrollment on commit. An enrollment that was active already is left alone.
    """
    status = _enrollment_edx_status()
    write = enrollment_activate(user, run=run, edx_status=status, existing=existing)
    if write.changed and status == EdxStatus.PENDING:
        enqueue_on_commit(enrollment_sync, write.enrollment.pk)
    return write


def enrollment_edx_queue(enrollment: CourseRunEnrollment) -> str:
    """Queue an existing enrollment's LMS enrollment again (a re-sync): mark it and, with edX
    configured, queue it on commit. Returns the enrollment's new ``edx_status``. Enrolling goes
    through ``enrollment_enroll``."""
    status = _enrollment_edx_status()
    if status == EdxStatus.PENDING:
        enqueue_on_commit(enrollment_sync, enrollment.pk)
    if enrollment.edx_status != status:
        enrollment.edx_status = status
        enrollment.save(update_fields=["edx_status", "updated_on"])
    return status
