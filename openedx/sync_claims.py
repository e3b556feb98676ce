"""How a sync of a run or an enrollment claims its record, records its outcome, and is found
again when its task was lost (SPEC §8, ARCHITECTURE rule 12): one conditional UPDATE claims a
record, the claim lapses after ``OPENEDX_SYNC_LEASE`` seconds, ``edx_syncs_overdue`` lists the
syncs to queue again."""

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
from openedx.config import edx_configured

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


def sync_claimable(now: dt.datetime) -> Q:
    """Records a sync may claim now: not created, and not held by a sync claimed less than the
    lease ago."""
    return ~Q(edx_status=EdxStatus.CREATED) & (
        ~Q(edx_status=EdxStatus.PENDING)
        | Q(edx_last_attempt_on__isnull=True)
        | Q(edx_last_attempt_on__lt=now - sync_lease())
    )


def sync_claim(model: type[CourseRun] | type[CourseRunEnrollment], pk: int) -> dt.datetime | None:
    """Take the record for one sync; the claim's time, or None when it is created already or
    another sync holds it. One conditional UPDATE: two deliveries cannot both win."""
    now = timezone.now()
    won = (
        model.objects.filter(pk=pk)
        .filter(sync_claimable(now))
        .update(
            edx_status=EdxStatus.PENDING,
            edx_last_attempt_on=now,
            edx_attempts=F("edx_attempts") + 1,
            updated_on=now,
        )
    )
    return now if won else None


def sync_finish(
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


def sync_unclaimed_result(
    kind: Literal["run", "enrollment"],
    record: CourseRun | CourseRunEnrollment,
    run: str,
    username: str | None,
) -> EdxSyncResult:
    """The result of a sync that could not claim its record: created already, or held by another
    sync (whose claim lapses after the lease)."""
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
            .filter(sync_claimable(now))
            .alias(last_touched=Coalesce("edx_last_attempt_on", "updated_on"))
            .filter(idle)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    return (
        overdue(CourseRun.objects.exclude(edx_source_key="")),
        overdue(CourseRunEnrollment.objects.all()),
    )
