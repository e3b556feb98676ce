"""How the b2b commands show the enrollment-code adjustment: its plan (``--dry-run``), its
progress while it runs in the foreground, and its outcome."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from b2b.services.codes import (
    ACTIONS,
    CodesAdjustment,
    CodesProgress,
    CodesReport,
    codes_adjustment_hint,
    codes_plan_rows,
)

ACTION_LABELS = {
    "delete": "Deleting unredeemed codes",
    "deactivate": "Deactivating codes",
    "convert": "Making codes unlimited",
    "create": "Creating codes",
    "reprice": "Re-pricing and re-dating codes",
}

PLAN_COLUMNS = (
    "product",
    "price",
    "create",
    "deactivate",
    "convert",
    "reprice",
    "delete",
    "usable_after",
)
PLAN_HEADERS = {"reprice": "re-price", "usable_after": "usable after"}


class RichCodesProgress:
    """Progress bars on the operator's terminal, one per action of the adjustment's plan."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def start(self, plan: CodesReport) -> None:
        totals = {action: n for action, n in plan.action_totals().items() if n}
        if not totals:
            return
        self.bars = Progress(
            TextColumn(f"Contract {plan.contract_id}: {{task.description}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.tasks = {
            action: self.bars.add_task(ACTION_LABELS[action], total=totals[action])
            for action in ACTIONS
            if action in totals
        }
        self.bars.start()

    def advance(self, action: str, count: int) -> None:
        if self.bars is not None and action in self.tasks:
            self.bars.advance(self.tasks[action], count)

    def finish(self, report: CodesReport) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None


class CodesOutputMixin:
    """For ``DomainCommand`` subclasses: show the adjustment a service asked for (its progress
    while it runs in this process, its outcome), render plans."""

    def codes_progress(self) -> CodesProgress | None:
        """What to give a service as ``progress``: rich progress bars on stderr when it is a
        terminal (they draw when the adjustment runs in this process: no broker), else None."""
        stderr = self.stderr._out  # type: ignore[attr-defined]
        if stderr.isatty():
            return RichCodesProgress(Console(file=stderr, stderr=True))
        return None

    def codes_outcome(self, adjustment: CodesAdjustment | None, contract_id: int) -> None:
        """One stderr line: what the adjustment a service asked for did when it ran in this
        process (its report, returned on the service's result), or where it went."""
        if adjustment is None or adjustment.report is None:
            self.hint(codes_adjustment_hint(contract_id))  # type: ignore[attr-defined]
            return
        self.hint(f"Enrollment codes adjusted for {adjustment.report.summary()}.")  # type: ignore[attr-defined]

    def plan_rows(self, plan: CodesReport) -> list[dict[str, Any]]:
        return codes_plan_rows(plan)

    def show_plan(self, plan: CodesReport | None) -> None:
        """The plan as a table on stdout and its totals."""
        if plan is None:
            self.stdout.write("Enrollment codes: nothing would change.")  # type: ignore[attr-defined]
            return
        self.emit_rows(  # type: ignore[attr-defined]
            self.plan_rows(plan),
            fmt="table",
            columns=PLAN_COLUMNS,
            headers=PLAN_HEADERS,
            title=f"Enrollment codes of contract {plan.contract_id}: the plan",
        )
        self.stdout.write(f"Plan for {plan.summary()}.")  # type: ignore[attr-defined]
        if plan.over_cap:
            self.hint(  # type: ignore[attr-defined]
                f"Contract {plan.contract_id} would be over its learner cap of "
                f"{plan.max_learners}: no usable code would be left where learners already "
                "redeemed that many; redemptions stay as they are."
            )
