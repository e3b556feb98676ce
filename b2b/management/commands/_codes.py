"""How the b2b commands show the enrollment-code adjustment: its plan (``--dry-run``), its
progress while it runs in the foreground, and its outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from b2b.services.codes import (
    ACTIONS,
    CodesForeground,
    CodesReport,
    codes_adjustment_hint,
    codes_foreground,
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
    """For ``DomainCommand`` subclasses: run services with the adjustment in the foreground,
    render plans and outcomes."""

    @contextmanager
    def codes_in_foreground(self) -> Iterator[CodesForeground]:
        """Adjustments that run in this thread (eager Celery) while the block runs report here;
        with stderr on a terminal they draw rich progress bars there."""
        stderr = self.stderr._out  # type: ignore[attr-defined]
        progress = None
        if stderr.isatty():
            progress = RichCodesProgress(Console(file=stderr, stderr=True))
        with codes_foreground(progress) as foreground:
            yield foreground

    def codes_outcome(self, foreground: CodesForeground, contract_id: int) -> None:
        """One stderr line per adjustment that ran in the foreground, or where it went."""
        if not foreground.reports:
            self.hint(codes_adjustment_hint(contract_id))  # type: ignore[attr-defined]
        for report in foreground.reports:
            self.hint(f"Enrollment codes adjusted for {report.summary()}.")  # type: ignore[attr-defined]

    def plan_rows(self, plan: CodesReport) -> list[dict[str, Any]]:
        rows = []
        for item in plan.products:
            product = item.description
            if item.new_product:
                product += " (new product)"
            if item.product_deactivated:
                product += " (product taken off sale)"
            price = f"{item.price_before:.2f}"
            if item.product_repriced:
                price += f" → {item.price_after:.2f}"
            create = f"{item.created} {item.created_type}" if item.created else "0"
            rows.append(
                {
                    "product": product,
                    "price": price,
                    "create": create,
                    "deactivate": item.deactivated,
                    "convert": item.converted,
                    "reprice": item.repriced,
                    "delete": item.deleted,
                    "usable_after": item.usable_after,
                }
            )
        return rows

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
