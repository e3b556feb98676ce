"""Asking for a code adjustment: once, on commit, with a durable marker (ARCHITECTURE rule 12),
run by the worker or, with Celery eager, in this process."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from b2b.models import ContractPage
from b2b.services.audit import codes_adjusted_record
from b2b.services.codes.report import CodesProgress, CodesReport
from b2b.services.codes.rule import codes_adjust
from b2b.services.codes_pending import (
    codes_pending_mark,
)
from main.actors import Via, acting_as
from main.queue import task_send

#: The task that adjusts a contract's codes in the worker (``b2b.tasks``, which imports this
#: module: it is named, not imported).
CODES_ADJUST_TASK = "b2b.tasks.contract_codes_adjust"


@dataclass
class CodesAdjustment:
    """An adjustment asked for by ``codes_adjust_queue``, sent once the transaction commits.

    With a broker, the Celery worker runs it (``b2b.tasks.contract_codes_adjust``) and ``report``
    stays None. Without one (the embedded default: Celery eager) it runs in this process right
    after the commit, as every task does there: ``progress``, set by whoever asked before the
    commit, receives its plan and counts, and ``report`` is what it did, for the command that
    asked to show. A rolled-back transaction sends nothing.
    """

    contract_id: int
    progress: CodesProgress | None = None
    report: CodesReport | None = None

    def send(self) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.report = codes_adjust_and_record(self.contract_id, progress=self.progress)
        else:
            task_send(CODES_ADJUST_TASK, self.contract_id)


def codes_adjust_queue(contract: ContractPage) -> CodesAdjustment:
    """Ask for ``codes_adjust`` for the contract once the current transaction commits: the one
    function that asks (SPEC §4). A change asks once: contract changes through
    ``contracts.contract_changed``, courseware changes and code deactivations in their service.
    Returns the request (see ``CodesAdjustment``).

    First it marks the contract's codes as needing adjustment in this same transaction
    (``codes_pending_mark``): should the task never run — the process dies before the commit
    reaches the broker, a worker dies mid-adjustment — the periodic re-queue finds the marker
    (ARCHITECTURE rule 12). Two requests in one transaction leave one marker."""
    codes_pending_mark(contract.pk)
    adjustment = CodesAdjustment(contract.pk)
    transaction.on_commit(adjustment.send)
    return adjustment


def codes_adjust_and_record(
    contract_id: int, *, progress: CodesProgress | None = None
) -> CodesReport:
    """Run ``codes_adjust`` and record the run in the contract's audit trail, acting as the task
    ``contract_codes_adjust`` (the task's body, wherever it runs). Returns the report."""
    with acting_as(Via.TASK, name="the enrollment-code adjustment"):
        report = codes_adjust(contract_id, progress=progress)
        with transaction.atomic():
            codes_adjusted_record(report)
    return report


def codes_adjustment_hint(contract_id: int) -> str:
    """A line for the operator on where the code adjustment ran (eager) or went (a worker)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return (
            f"Enrollment codes adjusted; `manage.py b2b_list courseware --contract {contract_id}` "
            "shows the counts."
        )
    return "The enrollment-code adjustment is queued for the Celery worker."
