"""A contract run made here, created in Studio (``course_run_sync``: GET the source run, clone
it, PATCH title, pacing and schedule) or sent its changed details (``course_run_update_sync``),
SPEC §8."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.db.models import F
from django.utils import timezone

from courses.models import CourseRun, EdxStatus
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

log = logging.getLogger(__name__)


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


def _run_read(run_id: int, *, not_managed: str) -> tuple[CourseRun, EdxSyncResult | None]:
    """The run, and the result of its sync when nothing is to be sent: Open edX is off
    (``not-configured``), or the run was not created here (``not-managed``, ``not_managed``
    saying why). Raises ``EdxRecordNotFound`` for an unknown ID."""
    run = CourseRun.objects.filter(pk=run_id).first()
    if run is None:
        raise EdxRecordNotFound(f"No course run with ID {run_id}.")
    if not edx_configured():
        detail = "Open edX is not configured: nothing sent"
        outcome: Outcome = "not-configured"
    elif not run.edx_source_key:
        detail, outcome = not_managed, "not-managed"
    else:
        return run, None
    return run, EdxSyncResult(
        "run", run.pk, run.courseware_id, None, run.edx_status, outcome, detail
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
    run, skipped = _run_read(
        run_id, not_managed="not created here (it comes from Open edX): nothing to clone"
    )
    if skipped is not None:
        return skipped
    key = run.courseware_id
    if run.edx_status == EdxStatus.CREATED:
        return EdxSyncResult(
            "run", run.pk, key, None, run.edx_status, "already-created", "already in Open edX"
        )
    claimed_on = sync_claim(CourseRun, run.pk)
    if claimed_on is None:
        return sync_unclaimed_result("run", run, key, None)
    try:
        cloned, sent = _studio_create(client or edx_client(), run)
    except (EdxError, EdxNotConfigured) as exc:
        sync_finish(CourseRun, run.pk, claimed_on, status=EdxStatus.FAILED, error=exc.message)
        log.warning("Course run %s: Open edX sync failed: %s", key, exc.message)
        return EdxSyncResult("run", run.pk, key, None, EdxStatus.FAILED, "failed", exc.message)
    sync_finish(CourseRun, run.pk, claimed_on, status=EdxStatus.CREATED)
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
    run, skipped = _run_read(
        run_id,
        not_managed="not created here (it comes from Open edX): its details are edited in Studio",
    )
    if skipped is not None:
        return skipped
    key = run.courseware_id
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
