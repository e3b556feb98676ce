"""What a courseware change did (``CoursewareChangeResult``, one ``CourseOutcome`` per course), its
audit entry and its message (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from b2b.models import ContractPage
from b2b.services.audit import audit_record
from b2b.services.codes import (
    CodesAdjustment,
    CodesProgress,
    CodesReport,
    codes_adjust_queue,
)

Outcome = Literal[
    "created", "reattached", "assigned", "recorded", "skipped", "failed", "removed", "kept"
]


@dataclass
class CourseOutcome:
    """What happened to one course (or run) of the request."""

    course: str
    outcome: Outcome
    run: str | None = None
    detail: str = ""


@dataclass
class CoursewareChangeResult:
    """The result of ``courseware_add`` / ``courseware_remove``; ``items`` has one entry per
    course."""

    contract: ContractPage
    readable_id: str
    kind: str
    action: Literal["add", "remove"]
    changed: bool = False
    message: str = ""
    items: list[CourseOutcome] = field(default_factory=list)
    edx_configured: bool = False
    dry_run: bool = False
    #: With ``dry_run``: what would happen to the contract's products and codes (None when
    #: nothing would change).
    plan: CodesReport | None = None
    #: The code adjustment the change asked for (None when nothing changed, or a dry run): its
    #: ``report`` says what it did when it ran in this process (no broker).
    codes: CodesAdjustment | None = None

    @property
    def failed(self) -> list[CourseOutcome]:
        return [item for item in self.items if item.outcome == "failed"]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)


def courseware_audit(result: CoursewareChangeResult, *, codes_deactivated: int = 0) -> None:
    """The audit entry of a courseware change: what went on or off, its runs, codes deactivated."""
    adding = result.action == "add"
    moved = ("created", "reattached", "assigned") if adding else ("removed",)
    changes: dict[str, object] = {
        "courseware": {
            "before": None if adding else result.readable_id,
            "after": result.readable_id if adding else None,
        },
        "runs " + ("added" if adding else "removed"): [
            item.run for item in result.items if item.outcome in moved
        ],
    }
    if result.failed:
        changes["courses failed"] = [item.course for item in result.failed]
    if not adding:
        changes["codes deactivated"] = codes_deactivated
    audit_record(result.contract, action=f"courseware.{result.action}", changes=changes)


def courseware_message(result: CoursewareChangeResult, *, recorded: bool = False) -> str:
    """The line a command prints and a page shows for an addition (``recorded``: the program was
    newly recorded on the contract, rather than found there already)."""
    if not result.changed:
        return f"{result.readable_id} is already on contract {result.contract.pk}: nothing to do."
    if result.kind == "program":
        return (
            f"Program {result.readable_id} {'added to' if recorded else 'is on'} contract "
            f"{result.contract.pk}: {result.count('created')} runs created, "
            f"{result.count('reattached')} re-attached, {result.count('skipped')} skipped, "
            f"{result.count('failed')} failed."
        )
    item = result.items[0]
    verbs = {
        "created": f"created run {item.run}",
        "reattached": f"re-attached run {item.run}",
        "assigned": f"assigned run {item.run}",
        "recorded": "recorded without runs",
        "skipped": f"recorded; the contract already had run {item.run}",
    }
    return f"Added {result.readable_id} to contract {result.contract.pk}: {verbs[item.outcome]}."


def codes_ask(contract: ContractPage, progress: CodesProgress | None) -> CodesAdjustment:
    """Ask for the code adjustment once for the change (``codes_adjust_queue``), reporting to
    ``progress`` if it runs in this process."""
    adjustment = codes_adjust_queue(contract)
    adjustment.progress = progress
    return adjustment
