"""Bring Open edX in line with a run or an enrollment made here (SPEC §8).

``course_run_sync``: a contract run created here becomes a run in Studio — the source run is
checked (GET), cloned to the run's key, then given the run's title, pacing and schedule (PATCH).
``course_run_update_sync``: a run already in Studio whose title, pacing or dates changed here is
sent the same PATCH. ``enrollment_sync``: a learner enrolled here is enrolled in the LMS.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from courses.models import CourseRun, CourseRunEnrollment, EdxStatus
from openedx.client import EdxClient, edx_client
from openedx.config import edx_configured
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
    "not-created",  # an update of a run not in Studio yet: its creation sends the values
    "updated",  # title, pacing and schedule sent to a run already in Studio
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


def _schedule(details: Mapping[str, Any]) -> dict[str, str | None]:
    """A run's dates (``_details``) for Studio's ``schedule``, ISO 8601 in UTC."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "start": iso(details["start_date"]),
        "end": iso(details["end_date"]),
        "enrollment_start": iso(details["enrollment_start"]),
        "enrollment_end": iso(details["enrollment_end"]),
    }


#: The run's fields Studio is sent (title, pacing, schedule), in the order ``_details`` reads them.
DETAIL_FIELDS = (
    "title",
    "is_self_paced",
    "start_date",
    "end_date",
    "enrollment_start",
    "enrollment_end",
)
#: Rounds of "PATCH, then read again" before a run's details are left to the next sync (an
#: edit committed during a PATCH is sent by the next round; a third edit in a row is rare).
DETAIL_ROUNDS = 3


def _details(run_id: int) -> dict[str, Any]:
    """The run's title, pacing and dates as the database holds them now (one query)."""
    return CourseRun.objects.filter(pk=run_id).values(*DETAIL_FIELDS).get()


def _details_send(client: EdxClient, run: CourseRun) -> dict[str, Any] | None:
    """PATCH the run's title, pacing and schedule as the database holds them, and again while
    they changed during the PATCH (an edit committed meanwhile), up to ``DETAIL_ROUNDS``
    requests. Returns what was sent last. Raises the client's ``EdxError``."""
    sent: dict[str, Any] | None = None
    for _ in range(DETAIL_ROUNDS):
        current = _details(run.pk)
        if current == sent:
            break
        client.course_run_update(
            run.courseware_id,
            title=current["title"],
            self_paced=current["is_self_paced"],
            schedule=_schedule(current),
        )
        sent = current
    return sent


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
        cloned, sent = _studio_create(client or edx_client(), run)
    except (EdxError, EdxNotConfigured) as exc:
        _finish(CourseRun, run.pk, claimed_on, status=EdxStatus.FAILED, error=exc.message)
        log.warning("Course run %s: Open edX sync failed: %s", key, exc.message)
        return EdxSyncResult("run", run.pk, key, None, EdxStatus.FAILED, "failed", exc.message)
    _finish(CourseRun, run.pk, claimed_on, status=EdxStatus.CREATED)
    # An edit committed after the last PATCH and before ``created`` was recorded found the run
    # not created yet, so its update sent nothing: send it now.
    if _details(run.pk) != sent:
        course_run_update_sync(run.pk, client=client)
    detail = (
        f"cloned from {run.edx_source_key}; title, pacing and schedule set"
        if cloned
        else "was in Studio already; title, pacing and schedule set"
    )
    log.info("Course run %s: created in Open edX (%s)", key, detail)
    return EdxSyncResult("run", run.pk, key, None, EdxStatus.CREATED, "created", detail)


def _studio_create(client: EdxClient, run: CourseRun) -> tuple[bool, dict[str, Any] | None]:
    """GET the source run, clone it to the run's key, PATCH title, pacing and schedule. Returns
    (True when Studio cloned it now, False when the run was there already; the details sent
    last); raises ``EdxError``."""
    key, source_key = run.courseware_id, run.edx_source_key
    try:
        client.course_run_get(source_key)
    except EdxRefused as exc:
        if exc.status == 404:
            raise EdxRefused(
                f"The source run {source_key} does not exist in Studio (GET answered "
                "404): create it in Studio, or fix the course's source run here, then run "
                "sync-edx again.",
                status=404,
            ) from exc
        raise
    cloned = client.course_run_clone(source_key=source_key, destination_key=key)
    return cloned, _details_send(client, run)


def _update_failed(run: CourseRun, message: str) -> EdxSyncResult:
    """Record a failed update as a failed sync, so that ``b2b_check`` reports it and
    ``b2b_courseware sync-edx`` (or its repair) sends the details again: its clone finds the run
    in Studio and its PATCH carries the run's current values."""
    error = f"The title, pacing and dates were not sent to Open edX: {message}"
    CourseRun.objects.filter(pk=run.pk, edx_status=EdxStatus.CREATED).update(
        edx_status=EdxStatus.FAILED,
        edx_error=error,
        edx_attempts=F("edx_attempts") + 1,
        edx_last_attempt_on=timezone.now(),
        updated_on=timezone.now(),
    )
    log.warning("Course run %s: %s", run.courseware_id, error)
    return EdxSyncResult("run", run.pk, run.courseware_id, None, EdxStatus.FAILED, "failed", error)


def course_run_update_sync(run_id: int, *, client: EdxClient | None = None) -> EdxSyncResult:
    """Send a run's title, pacing and schedule to Open edX after they changed here: the same
    ``PATCH`` as the run's creation (SPEC §8), with the values the database holds when it is sent
    (an edit committed during the request is sent in a second one).

    Only for a run created here (``edx_source_key`` set: else ``not-managed``) that is in
    Studio already (``edx_status`` ``created``: else ``not-created``, and its creation or the
    ``sync-edx`` retry sends the current values). Nothing is sent when edX is off
    (``not-configured``). A failure is recorded on the run as a failed sync (``edx_status``
    ``failed`` with the error) and returned, not raised. Raises ``EdxRecordNotFound`` for an
    unknown ID.
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
            "not created here (it comes from Open edX): its details are edited in Studio",
        )
    if run.edx_status != EdxStatus.CREATED:
        return EdxSyncResult(
            "run",
            run.pk,
            key,
            None,
            run.edx_status,
            "not-created",
            "not in Open edX yet: its creation sends the current title, pacing and dates",
        )
    try:
        _details_send(client or edx_client(), run)
    except (EdxError, EdxNotConfigured) as exc:
        return _update_failed(run, exc.message)
    log.info("Course run %s: title, pacing and schedule sent to Open edX", key)
    return EdxSyncResult(
        "run",
        run.pk,
        key,
        None,
        EdxStatus.CREATED,
        "updated",
        "title, pacing and schedule sent",
    )


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
        waiting = _lms_enroll(client or edx_client(), enrollment)
        if waiting is not None:
            # Another sync holds the run (or held it, and its worker died): the enrollment
            # waits, still pending, and is sent again once its own claim lapses.
            _finish(
                CourseRunEnrollment,
                enrollment.pk,
                claimed_on,
                status=EdxStatus.PENDING,
                error=waiting,
            )
            return EdxSyncResult(
                "enrollment",
                enrollment.pk,
                key,
                username,
                EdxStatus.PENDING,
                "in-progress",
                waiting,
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
