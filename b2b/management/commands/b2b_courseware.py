"""``manage.py b2b_courseware add | remove | sync-edx``: put courseware on contracts, take it
off, or bring a contract's runs and enrollments in line with Open edX."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._codes import CodesOutputMixin
from b2b.management.commands._options import positive_id
from b2b.services.courseware import CoursewareChangeResult, courseware_add, courseware_remove
from b2b.services.edx_sync import ITEM_KEYS, contract_edx_sync, runs_edx_summary
from main.commands import DomainCommand, add_format_argument

ITEM_COLUMNS = ("course", "outcome", "run", "detail")


class CoursewareCommandMixin(CodesOutputMixin):
    """The add/remove handlers, shared with ``b2b_contract courseware`` (the old spelling)."""

    def add_courseware_arguments(self, parser: CommandParser, *, adding: bool = True) -> None:
        parser.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        parser.add_argument(
            "readable_id",
            help="A course (course-v1:ORG+NUMBER), a course run (course-v1:ORG+NUMBER+RUN) "
            "or a program (program-v1:...).",
        )
        if adding:
            parser.add_argument(
                "--no-create-runs",
                action="store_true",
                help="Record the courseware on the contract without creating runs.",
            )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=(
                "Show what would change (runs, products and enrollment codes), and change nothing."
            ),
        )
        add_format_argument(parser, choices=("table", "json"))

    def add(
        self,
        *,
        contract_id: int,
        readable_id: str,
        no_create_runs: bool = False,
        dry_run: bool = False,
        format: str = "table",
        **_: Any,
    ) -> None:
        result = courseware_add(
            contract_id,
            readable_id,
            create_runs=not no_create_runs,
            dry_run=dry_run,
            progress=self.codes_progress(),
        )
        self.report(result, format)

    def remove(
        self,
        *,
        contract_id: int,
        readable_id: str,
        dry_run: bool = False,
        format: str = "table",
        **_: Any,
    ) -> None:
        result = courseware_remove(
            contract_id, readable_id, dry_run=dry_run, progress=self.codes_progress()
        )
        self.report(result, format)

    def report(self, result: CoursewareChangeResult, fmt: str) -> None:
        items = [
            {"course": i.course, "outcome": i.outcome, "run": i.run, "detail": i.detail}
            for i in result.items
        ]
        if fmt == "json":
            document: dict[str, Any] = {
                "contract_id": result.contract.pk,
                "readable_id": result.readable_id,
                "type": result.kind,
                "action": result.action,
                "changed": result.changed,
                "items": items,
                "message": result.message,
            }
            if result.dry_run:
                document["dry_run"] = True
                document["plan"] = result.plan.as_dict() if result.plan else None
            self.emit_json(document)  # type: ignore[attr-defined]
        else:
            if items and (result.kind == "program" or result.action == "remove"):
                self.emit_rows(items, fmt="table", columns=ITEM_COLUMNS)  # type: ignore[attr-defined]
            self.stdout.write(result.message)  # type: ignore[attr-defined]
            if result.dry_run:
                self.show_plan(result.plan)
        created = any(i.outcome == "created" for i in result.items)
        if result.action == "add" and created and not result.dry_run:
            if not result.edx_configured:
                self.hint(  # type: ignore[attr-defined]
                    "Open edX is not configured (OPENEDX_* settings): the runs were created here "
                    "only, with edx_status not-configured."
                )
            else:
                keys = [i.run for i in result.items if i.outcome == "created" and i.run]
                summary = runs_edx_summary(result.contract.pk, courseware_ids=keys)
                self.hint(summary)  # type: ignore[attr-defined]
        if result.changed and not result.dry_run:
            self.codes_outcome(result.codes, result.contract.pk)
        if result.action == "add" and result.changed and not result.contract.active:
            self.hint(  # type: ignore[attr-defined]
                f"Contract {result.contract.pk} is inactive: learners cannot use it until "
                f"`manage.py b2b_contract modify {result.contract.pk} --active`."
            )
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} of {len(result.items)} courses "
                + (
                    "would fail; the others would be added"
                    if result.dry_run
                    else "failed; the others were added"
                )
                + ". Fix the failures listed above and run the command again."
            )


class Command(CoursewareCommandMixin, DomainCommand):
    help = (
        "Add courses, course runs and programs to a contract, or remove them; sync the "
        "contract's runs and enrollments with Open edX."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)
        add = sub.add_parser(
            "add",
            help="Put a course, run or program on a contract (creates contract runs).",
            description=(
                "A course gets a contract run cloned from its source run, with a product and "
                "enrollment codes. A course run is assigned to the contract. A program gets a "
                "run for every course of its requirements tree. Adding what is there does nothing."
            ),
        )
        self.add_courseware_arguments(add)
        add.set_defaults(handler=self.add)
        remove = sub.add_parser(
            "remove",
            help="Take a course, run or program off a contract (runs stay, off the contract).",
        )
        self.add_courseware_arguments(remove, adding=False)
        remove.set_defaults(handler=self.remove)
        sync = sub.add_parser(
            "sync-edx",
            help="Retry the contract's runs and enrollments that are not in Open edX yet.",
            description=(
                "Creates in Open edX the contract's runs (clone, then title, pacing and "
                "schedule) and LMS enrollments whose edX status is pending, failed or "
                "not-configured, and reports each. Exit 1 when any failed."
            ),
        )
        sync.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        sync.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be synced, with the last error of each; send nothing.",
        )
        add_format_argument(sync, choices=("table", "json"))
        sync.set_defaults(handler=self.sync_edx)

    def sync_edx(
        self, *, contract_id: int, dry_run: bool = False, format: str = "table", **_: Any
    ) -> None:
        result = contract_edx_sync(contract_id, dry_run=dry_run)
        rows = [item.as_row() for item in result.items]
        if format == "json":
            self.emit_json(
                {
                    "contract_id": result.contract.pk,
                    "dry_run": result.dry_run,
                    "items": rows,
                    "message": result.message,
                }
            )
        else:
            if rows:
                self.emit_rows(rows, fmt="table", columns=ITEM_KEYS)
            self.stdout.write(result.message)
        if dry_run and not result.configured:
            self.hint("Open edX is not configured (OPENEDX_* settings): set them before syncing.")
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} of {len(result.items)} failed (see the detail column): "
                "fix what it says, or wait for Open edX to answer again, then run "
                f"`b2b_courseware sync-edx {result.contract.pk}` again."
            )
