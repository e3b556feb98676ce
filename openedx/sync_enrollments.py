"""A learner enrolled here, enrolled in the LMS (``enrollment_sync``), SPEC §8."""

from __future__ import annotations

import logging

from django.conf import settings

from courses.models import CourseRunEnrollment, EdxStatus
from openedx.client import EdxClient, edx_client
from openedx.config import edx_configured
from openedx.exceptions import EdxError, EdxNotConfigured, EdxRecordNotFound, EdxRefused
from openedx.sync_claims import (
    EdxSyncResult,
    Outcome,
    sync_claim,
    sync_finish,
    sync_unclaimed_result,
)
from openedx.sync_runs import course_run_sync

log = logging.getLogger(__name__)


def enrollment_sync(enrollment_id: int, *, client: EdxClient | None = None) -> EdxSyncResult:
    """Enroll the learner of ``enrollment_id`` in its run in the Open edX LMS (SPEC §8).

    The learner's LMS username is their username here (the LMS account is made from this one
    by SSO, under the same username). Mode ``OPENEDX_ENROLLMENT_MODE`` (``audit``: the mode
    every run has, a fresh clone included), ``force_enrollment`` so that the run's enrollment
    dates do not stop an enrollment decided here. A contract run not yet in Studio is synced
    first; if that fails the enrollment fails with the run's error; if another sync holds the
    run, the enrollment stays ``pending`` (``in-progress``) for the periodic re-queue. Skips,
    recording and idempotency as ``course_run_sync``. Raises ``EdxRecordNotFound`` for an
    unknown ID.
    """
    enrollment = (
        CourseRunEnrollment.objects.select_related("user", "run").filter(pk=enrollment_id).first()
    )
    if enrollment is None:
        raise EdxRecordNotFound(f"No course run enrollment with ID {enrollment_id}.")
    username, key = enrollment.user.username, enrollment.run.courseware_id

    def result(status: str, outcome: Outcome, detail: str) -> EdxSyncResult:
        return EdxSyncResult("enrollment", enrollment.pk, key, username, status, outcome, detail)

    if not edx_configured():
        return result(
            enrollment.edx_status, "not-configured", "Open edX is not configured: nothing sent"
        )
    if enrollment.edx_status == EdxStatus.CREATED:
        return result(enrollment.edx_status, "already-created", "already in Open edX")
    claimed_on = sync_claim(CourseRunEnrollment, enrollment.pk)
    if claimed_on is None:
        return sync_unclaimed_result("enrollment", enrollment, key, username)
    try:
        waiting = _lms_enroll(client or edx_client(), enrollment)
    except (EdxError, EdxNotConfigured) as exc:
        sync_finish(
            CourseRunEnrollment,
            enrollment.pk,
            claimed_on,
            status=EdxStatus.FAILED,
            error=exc.message,
        )
        log.warning("Enrollment of %s in %s: Open edX sync failed: %s", username, key, exc.message)
        return result(EdxStatus.FAILED, "failed", exc.message)
    if waiting is not None:
        # Another sync holds the run (or held it, and its worker died): the enrollment waits,
        # still pending, and is sent again once its own claim lapses.
        sync_finish(
            CourseRunEnrollment, enrollment.pk, claimed_on, status=EdxStatus.PENDING, error=waiting
        )
        return result(EdxStatus.PENDING, "in-progress", waiting)
    sync_finish(CourseRunEnrollment, enrollment.pk, claimed_on, status=EdxStatus.CREATED)
    detail = f"enrolled in the LMS ({settings.OPENEDX_ENROLLMENT_MODE})"
    log.info("Enrollment of %s in %s: %s", username, key, detail)
    return result(EdxStatus.CREATED, "created", detail)


def _lms_enroll(client: EdxClient, enrollment: CourseRunEnrollment) -> str | None:
    """Enroll in the LMS, after syncing a contract run not yet in Studio. Returns None when
    enrolled, or why the enrollment waits (another sync holds the run); raises ``EdxError``
    (with the run's error when the run could not be created)."""
    run = enrollment.run
    if run.edx_source_key and run.edx_status != EdxStatus.CREATED:
        run_result = course_run_sync(run.pk, client=client)
        if run_result.outcome == "in-progress":
            return f"waiting for the course run {run.courseware_id}: {run_result.detail}"
        if run_result.status != EdxStatus.CREATED:
            raise EdxRefused(
                f"The course run {run.courseware_id} is not in Open edX yet "
                f"({run_result.outcome}: {run_result.detail})"
            )
    client.enrollment_create(
        username=enrollment.user.username,
        course_key=run.courseware_id,
        mode=settings.OPENEDX_ENROLLMENT_MODE,
        is_active=enrollment.active,
    )
    return None
