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

This module names what the tasks and ``b2b`` call; the work is in ``sync_claims`` (claim,
lease, outcome, overdue), ``sync_runs`` (Studio) and ``sync_enrollments`` (LMS).
"""

from openedx.sync_claims import EdxSyncResult, Outcome, edx_syncs_overdue, sync_lease
from openedx.sync_enrollments import enrollment_sync
from openedx.sync_runs import course_run_sync, course_run_update_sync

__all__ = [
    "EdxSyncResult",
    "Outcome",
    "course_run_sync",
    "course_run_update_sync",
    "edx_syncs_overdue",
    "enrollment_sync",
    "sync_lease",
]
