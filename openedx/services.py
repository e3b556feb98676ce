"""Bring Open edX in line with a run or an enrollment made here (SPEC §8).

``course_run_sync``: a contract run created here becomes a run in Studio — the source run is
checked (GET), cloned to the run's key, then given the run's title, self-paced pacing and
schedule (PATCH). ``enrollment_sync``: a learner enrolled here is enrolled in the LMS.

Both are idempotent and safe to run twice at once: a record already ``created`` is left alone
(no HTTP at all), and a sync claims its record first with a conditional update, so a second
delivery of the same task finds it ``created``, or being synced, and stops. The claim lapses
after ``OPENEDX_SYNC_LEASE`` seconds (a worker that died mid-sync). The outcome is recorded on
the record: ``edx_status`` ``created`` or ``failed`` with ``edx_error`` (the last error),
``edx_attempts`` and ``edx_last_attempt_on``. Failures are recorded, never raised, so a task
queued on commit never breaks the command or request that queued it; ``b2b_courseware sync-edx``
retries them. ``edx_syncs_overdue`` finds the syncs still ``pending`` whose task was lost, for
the periodic re-queue (ARCHITECTURE rule 12).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from courses.models import CourseRun, CourseRunEnrollment, EdxStatus
from openedx.api import edx_configured
from openedx.client import EdxClient, edx_client
from openedx.exceptions import EdxError, EdxNotConfigured, EdxRecordNotFound, EdxRefused

log = logging.getLogger(__name__)


def sync_lease() -> dt.timedelta:
    """How long a sync's claim holds (``OPENEDX_SYNC_LEASE``)."""
    return dt.timedelta(seconds=settings.OPENEDX_SYNC_LEASE)


Outcome = Literal[
    "created",  # done now: cloned and updated, or enrolled
    "already-created",  # it was created before: nothing sent
    "in-progress",  # another sync holds it (claimed less than the lease ago): nothing sent
    "not-configured",  # edX is off: nothing sent
    "not-managed",  # a run that comes from edX, not one created here: nothing sent
    "failed",  # edX refused, or did not answer within the retries: the error is recorded
]


@dataclass(frozen=True)
class EdxSyncResult:
    """What one sync did. ``kind`` ``run`` or ``enrollment``; ``pk`` the record's ID; ``run`` the
    courseware ID; ``username`` the learner (enrollments); ``status`` the record's ``edx_status``
    after the sync; ``detail`` what happened in words (the error when it failed)."""

    kind: Literal["run", "enrollment"]
    pk: int
    run: str
    username: str | None
    status: str
    outcome: Outcome
    detail: str = ""


def _schedule(run: CourseRun) -> dict[str, str | None]:
    """The run's dates for Studio's ``schedule``, ISO 8601 in UTC."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "start": iso(run.start_date),
        "end": iso(run.end_date),
        "enrollment_start": iso(run.enrollment_start),
        "enrollment_end": iso(run.enrollment_end),
    }


def _claimable(now: dt.datetime) -> Q:
    """Records a sync may claim now: not created, and not held by a sync claimed less than the
    lease ago."""
    return ~Q(edx_status=EdxStatus.CREATED) & (
        ~Q(edx_status=EdxStatus.PENDING)
        | Q(edx_last_attempt_on__isnull=True)
        | Q(edx_last_attempt_on__lt=now - sync_lease())
    )


def _claim(model: type[CourseRun] | type[CourseRunEnrollment], pk: int) -> dt.datetime | None:
    """Take the record for one sync; the claim's time, or None when it is created already or
    another sync holds it. One conditional UPDATE: two deliveries cannot both win."""
    now = timezone.now()
    won = (
        model.objects.filter(pk=pk)
        .filter(_claimable(now))
        .update(
            edx_status=EdxStatus.PENDING,
            edx_last_attempt_on=now,
            edx_attempts=F("edx_attempts") + 1,
            updated_on=now,
        )
    )
    return now if won else None


def _finish(
    model: type[CourseRun] | type[CourseRunEnrollment],
    pk: int,
    claimed_on: dt.datetime,
    *,
    status: str,
    error: str = "",
) -> None:
    """Record the outcome, if the claim is still ours (a lapsed claim may have been retaken)."""
    model.objects.filter(pk=pk, edx_last_attempt_on=claimed_on).update(
        edx_status=status, edx_error=error, updated_on=timezone.now()
    )


def _unclaimed_result(
    kind: Literal["run", "enrollment"],
    record: CourseRun | CourseRunEnrollment,
    run: str,
    username: str | None,
) -> EdxSyncResult:
    record.refresh_from_db(fields=["edx_status", "edx_error", "edx_last_attempt_on"])
    if record.edx_status == EdxStatus.CREATED:
        return EdxSyncResult(
            kind,
            record.pk,
            run,
            username,
            record.edx_status,
            "already-created",
            "already in Open edX",
        )
    held = record.edx_last_attempt_on
    until = (held + sync_lease()).isoformat(timespec="seconds") if held else "now"
    return EdxSyncResult(
        kind,
        record.pk,
        run,
        username,
        record.edx_status,
        "in-progress",
        f"another sync is at work on it (its claim lapses at {until})",
    )


def course_run_sync(run_id: int, *, client: EdxClient | None = None) -> EdxSyncResult:
    """Create the contract run ``run_id`` in Open edX: GET the source run, clone it to the run's
    key, PATCH title, ``pacing_type: self_paced`` and ``schedule`` (SPEC §8).

    A clone answered "Destination course already exists." counts as done and the PATCH follows.
    Nothing is sent when edX is off (``not-configured``), when the run is ``created`` already,
    when another sync holds it (``in-progress``), or for a run not created here
    (``not-managed``: it has no ``edx_source_key``). Failures are recorded (``failed`` with the
    error) and returned, not raised. Raises ``EdxRecordNotFound`` for an unknown ID.
    """
    run = CourseRun.objects.filter(pk=run_id).first()
    if run is None:
        raise EdxRecordNotFound(f"No course run with ID {run_id}.")
    key = run.courseware_id
    if not edx_configured():
        return EdxSyncResult(
            "run",
            run.pk,
            key,
            None,
            run.edx_status,
            "not-configured",
            "Open edX is not configured: nothing sent",
        )
    if not run.edx_source_key:
        return EdxSyncResult(
            "run",
            run.pk,
            key,
            None,
            run.edx_status,
            "not-managed",
            "not created here (it comes from Open edX): nothing to clone",
        )
    if run.edx_status == EdxStatus.CREATED:
        return EdxSyncResult(
            "run", run.pk, key, None, run.edx_status, "already-created", "already in Open edX"
        )
    claimed_on = _claim(CourseRun, run.pk)
    if claimed_on is None:
        return _unclaimed_result("run", run, key, None)
    try:
        client = client or edx_client()
        try:
            client.course_run_get(run.edx_source_key)
        except EdxRefused as exc:
            if exc.status == 404:
                raise EdxRefused(
                    f"The source run {run.edx_source_key} does not exist in Studio (GET answered "
                    "404): create it in Studio, or fix the course's source run here, then run "
                    "sync-edx again.",
                    status=404,
                ) from exc
            raise
        cloned = client.course_run_clone(source_key=run.edx_source_key, destination_key=key)
        client.course_run_update(
            key, title=run.title, self_paced=run.is_self_paced, schedule=_schedule(run)
        )
    except (EdxError, EdxNotConfigured) as exc:
        _finish(CourseRun, run.pk, claimed_on, status=EdxStatus.FAILED, error=exc.message)
        log.warning("Course run %s: Open edX sync failed: %s", key, exc.message)
        return EdxSyncResult("run", run.pk, key, None, EdxStatus.FAILED, "failed", exc.message)
    _finish(CourseRun, run.pk, claimed_on, status=EdxStatus.CREATED)
    detail = (
        f"cloned from {run.edx_source_key}; title, pacing and schedule set"
        if cloned
        else "was in Studio already; title, pacing and schedule set"
    )
    log.info("Course run %s: created in Open edX (%s)", key, detail)
    return EdxSyncResult("run", run.pk, key, None, EdxStatus.CREATED, "created", detail)


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
    run, username = enrollment.run, enrollment.user.username
    key = run.courseware_id
    if not edx_configured():
        return EdxSyncResult(
            "enrollment",
            enrollment.pk,
            key,
            username,
            enrollment.edx_status,
            "not-configured",
            "Open edX is not configured: nothing sent",
        )
    if enrollment.edx_status == EdxStatus.CREATED:
        return EdxSyncResult(
            "enrollment",
            enrollment.pk,
            key,
            username,
            enrollment.edx_status,
            "already-created",
            "already in Open edX",
        )
    claimed_on = _claim(CourseRunEnrollment, enrollment.pk)
    if claimed_on is None:
        return _unclaimed_result("enrollment", enrollment, key, username)
    try:
        client = client or edx_client()
        if run.edx_source_key and run.edx_status != EdxStatus.CREATED:
            run_result = course_run_sync(run.pk, client=client)
            if run_result.outcome == "in-progress":
                # Another sync holds the run (or held it, and its worker died): the enrollment
                # waits, still pending, and is sent again once its own claim lapses.
                detail = f"waiting for the course run {key}: {run_result.detail}"
                _finish(
                    CourseRunEnrollment,
                    enrollment.pk,
                    claimed_on,
                    status=EdxStatus.PENDING,
                    error=detail,
                )
                return EdxSyncResult(
                    "enrollment",
                    enrollment.pk,
                    key,
                    username,
                    EdxStatus.PENDING,
                    "in-progress",
                    detail,
                )
            if run_result.status != EdxStatus.CREATED:
                raise EdxRefused(
                    f"The course run {key} is not in Open edX yet ({run_result.outcome}: "
                    f"{run_result.detail})"
                )
        client.enrollment_create(
            username=username,
            course_key=key,
            mode=settings.OPENEDX_ENROLLMENT_MODE,
            is_active=enrollment.active,
        )
    except (EdxError, EdxNotConfigured) as exc:
        _finish(
            CourseRunEnrollment,
            enrollment.pk,
            claimed_on,
            status=EdxStatus.FAILED,
            error=exc.message,
        )
        log.warning("Enrollment of %s in %s: Open edX sync failed: %s", username, key, exc.message)
        return EdxSyncResult(
            "enrollment", enrollment.pk, key, username, EdxStatus.FAILED, "failed", exc.message
        )
    _finish(CourseRunEnrollment, enrollment.pk, claimed_on, status=EdxStatus.CREATED)
    detail = f"enrolled in the LMS ({settings.OPENEDX_ENROLLMENT_MODE})"
    log.info("Enrollment of %s in %s: %s", username, key, detail)
    return EdxSyncResult(
        "enrollment", enrollment.pk, key, username, EdxStatus.CREATED, "created", detail
    )


def edx_syncs_overdue(*, now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """The runs and the enrollments whose sync is ``pending`` and was lost: (run IDs, enrollment
    IDs), ascending; two queries, none when edX is off.

    Pending means a sync was asked for, on commit, and has not finished. It counts as lost when
    nothing has happened to the record for ``REQUEUE_PENDING_AFTER`` seconds and a sync may
    claim it now: never claimed (the task never ran), or claimed longer than
    ``OPENEDX_SYNC_LEASE`` ago (the worker died mid-sync). Runs not created here (no
    ``edx_source_key``) are left out: their sync sends nothing. ``failed`` records are final
    here (edX refused, or did not answer within the retries): ``b2b_courseware sync-edx``
    retries them and ``b2b_check`` reports the runs.
    """
    if not edx_configured():
        return [], []
    now = now or timezone.now()
    idle = Q(last_touched__lt=now - dt.timedelta(seconds=settings.REQUEUE_PENDING_AFTER))

    def overdue(queryset: QuerySet[Any]) -> list[int]:
        return list(
            queryset.filter(edx_status=EdxStatus.PENDING)
            .filter(_claimable(now))
            .alias(last_touched=Coalesce("edx_last_attempt_on", "updated_on"))
            .filter(idle)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    return (
        overdue(CourseRun.objects.exclude(edx_source_key="")),
        overdue(CourseRunEnrollment.objects.all()),
    )
