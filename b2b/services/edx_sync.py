"""A contract's runs and enrollments, brought in line with Open edX (SPEC §8; the operator's
``b2b_courseware sync-edx``).

Retries what is not in Open edX yet: the contract's runs created here (``edx_source_key`` set)
and the enrollments in the contract's runs whose ``edx_status`` is ``pending``, ``failed`` or
``not-configured`` (made while edX was off), runs first. Each is synced by the openedx
services, which record its outcome; one client, so one token, serves the whole batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from b2b.models import ContractPage
from b2b.services.contracts import contract_get
from courses.models import CourseRun, CourseRunEnrollment, EdxStatus
from main.exceptions import DomainError
from openedx.api import edx_configured, edx_missing_settings
from openedx.client import EdxClient, edx_client
from openedx.exceptions import EdxNotConfigured
from openedx.services import EdxSyncResult, course_run_sync, enrollment_sync

log = logging.getLogger(__name__)

ITEM_KEYS = ("kind", "run", "learner", "before", "after", "outcome", "detail")


@dataclass(frozen=True)
class EdxSyncItem:
    """One run or enrollment of the batch: its ``edx_status`` before and after (None in a dry
    run), the outcome (``EdxSyncResult.outcome``, or ``to-sync`` in a dry run) and the detail
    (the error when it failed; in a dry run the last error recorded)."""

    kind: str
    run: str
    learner: str | None
    before: str
    after: str | None
    outcome: str
    detail: str

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ITEM_KEYS}


@dataclass
class ContractEdxSync:
    """The result of ``contract_edx_sync``: ``items`` in the order they were synced,
    ``runs_total`` and ``enrollments_total`` (all of the contract's, synced or not)."""

    contract: ContractPage
    dry_run: bool
    configured: bool
    runs_total: int = 0
    enrollments_total: int = 0
    items: list[EdxSyncItem] = field(default_factory=list)
    message: str = ""

    @property
    def failed(self) -> list[EdxSyncItem]:
        return [item for item in self.items if item.outcome == "failed"]

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)


def contract_edx_sync(contract_id: int, *, dry_run: bool = False) -> ContractEdxSync:
    """Retry the contract's runs and enrollments that are not in Open edX yet (SPEC §8).

    ``dry_run`` lists them with their last error and sends nothing. Raises
    ``ContractNotFound``, and ``EdxNotConfigured`` (naming the unset settings, nothing sent)
    when edX is off and this is not a dry run. Failures of single items are in ``items``
    (outcome ``failed``), not raised.
    """
    contract = contract_get(contract_id)
    configured = edx_configured()
    if not configured and not dry_run:
        raise EdxNotConfigured(
            f"Open edX is not configured (unset: {', '.join(edx_missing_settings())}): set "
            "them (see the README's Settings) and run sync-edx again. Nothing was sent; "
            "--dry-run lists what would be synced."
        )
    runs = list(
        CourseRun.objects.filter(b2b_contract=contract)
        .exclude(edx_source_key="")
        .order_by("courseware_id")
    )
    enrollments = list(
        CourseRunEnrollment.objects.filter(run__b2b_contract=contract)
        .select_related("user", "run")
        .order_by("run__courseware_id", "user__username", "pk")
    )
    result = ContractEdxSync(
        contract, dry_run, configured, runs_total=len(runs), enrollments_total=len(enrollments)
    )
    pending_runs = [run for run in runs if run.edx_status != EdxStatus.CREATED]
    pending_enrollments = [e for e in enrollments if e.edx_status != EdxStatus.CREATED]
    if dry_run:
        for run in pending_runs:
            result.items.append(
                EdxSyncItem(
                    "run", run.courseware_id, None, run.edx_status, None, "to-sync", run.edx_error
                )
            )
        for enrollment in pending_enrollments:
            result.items.append(
                EdxSyncItem(
                    "enrollment",
                    enrollment.run.courseware_id,
                    enrollment.user.username,
                    enrollment.edx_status,
                    None,
                    "to-sync",
                    enrollment.edx_error,
                )
            )
        result.message = _message(result)
        return result
    client = edx_client()
    for run in pending_runs:
        result.items.append(
            _sync(course_run_sync, run.pk, client, "run", run.courseware_id, None, run.edx_status)
        )
    for enrollment in pending_enrollments:
        result.items.append(
            _sync(
                enrollment_sync,
                enrollment.pk,
                client,
                "enrollment",
                enrollment.run.courseware_id,
                enrollment.user.username,
                enrollment.edx_status,
            )
        )
    result.message = _message(result)
    log.info("%s", result.message)
    return result


def runs_edx_summary(contract_id: int, *, courseware_ids: list[str]) -> str:
    """One line on where new runs stand in Open edX (after ``add``): created, failed (with the
    command that retries them) or queued for a worker."""
    statuses = list(
        CourseRun.objects.filter(courseware_id__in=courseware_ids).values_list(
            "edx_status", flat=True
        )
    )
    created = statuses.count(EdxStatus.CREATED)
    failed = statuses.count(EdxStatus.FAILED)
    queued = len(statuses) - created - failed
    parts = [f"{created} created"] if created else []
    if failed:
        parts.append(
            f"{failed} failed (`b2b_list courseware --contract {contract_id}` shows them, "
            f"`b2b_courseware sync-edx {contract_id}` retries them and says why)"
        )
    if queued:
        parts.append(f"{queued} queued for the Celery worker")
    return f"Open edX: {', '.join(parts)}."


def contracts_edx_summary(contract_ids: list[int]) -> str:
    """One line on the contracts' runs in Open edX: how many are created there (and where), or
    that edX is off."""
    statuses = list(
        CourseRun.objects.filter(b2b_contract_id__in=contract_ids)
        .exclude(edx_source_key="")
        .values_list("edx_status", flat=True)
    )
    if not edx_configured():
        return (
            f"Open edX: off (OPENEDX_* settings unset); the {_n(len(statuses), 'contract run')} "
            "exist here only, with edx_status not-configured."
        )
    created = statuses.count(EdxStatus.CREATED)
    line = (
        f"Open edX: {created} of {_n(len(statuses), 'contract run')} created in Studio at "
        f"{settings.OPENEDX_STUDIO_API_BASE_URL}"
    )
    if created < len(statuses):
        line += " (`b2b_courseware sync-edx <contract id>` retries the others and says why)"
    return line + "."


def _sync(
    sync: Any, pk: int, client: EdxClient, kind: str, run: str, learner: str | None, before: str
) -> EdxSyncItem:
    try:
        outcome: EdxSyncResult = sync(pk, client=client)
    except DomainError as exc:  # deleted since it was listed
        return EdxSyncItem(kind, run, learner, before, None, "failed", exc.message)
    return EdxSyncItem(kind, run, learner, before, outcome.status, outcome.outcome, outcome.detail)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _message(result: ContractEdxSync) -> str:
    contract_id = result.contract.pk
    if not result.items:
        return (
            f"Contract {contract_id}: nothing to sync; its {_n(result.runs_total, 'run')} created "
            f"here and {_n(result.enrollments_total, 'enrollment')} are all in Open edX."
        )
    runs = sum(1 for item in result.items if item.kind == "run")
    batch = f"{_n(runs, 'run')} and {_n(len(result.items) - runs, 'enrollment')}"
    if result.dry_run:
        return f"Contract {contract_id}: {batch} not in Open edX yet (dry run: nothing sent)."
    others = len(result.items) - result.count("created") - result.count("failed")
    return (
        f"Contract {contract_id}: synced {batch} with Open edX: {result.count('created')} "
        f"created, {result.count('failed')} failed"
        + (f", {others} left as they were (see detail)" if others else "")
        + "."
    )
