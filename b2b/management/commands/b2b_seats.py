"""``manage.py b2b_seats assign <contract id> (EMAIL... | --file F) [--dry-run] [--format json]``:
give a contract's seats to email addresses (SPEC §9, ``b2b.services.assignments``).

``b2b_seats list <contract id> [--status open|joined|revoked]``, ``remind <contract id> EMAIL...``
(at most once a day per seat), ``revoke <contract id> EMAIL...`` (the seat is freed, its codes
stop working), ``reassign <contract id> EMAIL NEW_EMAIL [--name NAME]``.

Each row gets an outcome (``assigned``, ``already-assigned``, ``already-attached``, ``no-seat``,
``invalid-email``, ``duplicate-row``); ``--dry-run`` shows them and changes nothing. The file is
CSV ``email[,name]`` (a header row ``email,name`` is allowed). Exit 0 whatever the rows' outcomes:
the report says what happened to each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._options import positive_id
from b2b.services.assignment_actions import (
    LIST_KEYS,
    assignment_reassign,
    assignment_remind,
    assignment_revoke,
    assignments_list,
)
from b2b.services.assignments import ROW_KEYS, assignment_rows_read, seats_assign
from main.commands import DomainCommand, add_format_argument
from main.exceptions import DomainError


class Command(DomainCommand):
    help = "Assign a contract's seats to email addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)
        assign = sub.add_parser(
            "assign",
            help="Reserve a seat for each email and mail it an invitation with a join link.",
            description=(
                "Reserve a seat of the contract for each EMAIL (or each row of --file, CSV "
                "email[,name]), in order, while seats last; each is mailed an invitation with "
                "a join link that only that address can use. --dry-run shows each row's "
                "outcome and changes nothing."
            ),
        )
        assign.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        assign.add_argument("emails", nargs="*", metavar="EMAIL")
        assign.add_argument("--file", type=Path, help="A CSV file of email[,name] rows.")
        assign.add_argument("--dry-run", action="store_true", help="Preview; change nothing.")
        add_format_argument(assign)
        assign.set_defaults(handler=self.assign)

        listing = sub.add_parser("list", help="The contract's seats assigned by email.")
        listing.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        listing.add_argument("--status", choices=("open", "joined", "revoked"))
        add_format_argument(listing)
        listing.set_defaults(handler=self.list_assignments)

        for name, text in (
            ("remind", "Mail the invitation again (at most once a day per seat)."),
            ("revoke", "Free the seat; the codes it held stop working."),
        ):
            action = sub.add_parser(name, help=text, description=text)
            action.add_argument("contract_id", type=positive_id, help="The contract's ID.")
            action.add_argument("emails", nargs="+", metavar="EMAIL")
            add_format_argument(action)
            action.set_defaults(handler=self.act, action=name)

        reassign = sub.add_parser(
            "reassign",
            help="Revoke a seat and assign it to another address.",
            description="Revoke EMAIL's seat and assign a seat to NEW_EMAIL (a new invitation).",
        )
        reassign.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        reassign.add_argument("email", metavar="EMAIL")
        reassign.add_argument("new_email", metavar="NEW_EMAIL")
        reassign.add_argument("--name", default="", help="The new person's name.")
        add_format_argument(reassign)
        reassign.set_defaults(handler=self.reassign)

    def assign(
        self,
        *,
        contract_id: int,
        emails: list[str],
        file: Path | None,
        dry_run: bool,
        format: str,
        **_: Any,
    ) -> None:
        if emails and file is not None:
            raise CommandError("Give email addresses or --file, not both.")
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8-sig")
            except FileNotFoundError:
                raise CommandError(f"No file {file}: give the path of a CSV file.") from None
            except UnicodeDecodeError:
                raise CommandError(f"{file} is not UTF-8 text: save it as UTF-8 CSV.") from None
            except OSError as exc:
                raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
            entries = assignment_rows_read(text)
            if not entries:
                raise CommandError(f"{file} has no rows: one email[,name] per line.")
        else:
            if not emails:
                raise CommandError("Give at least one EMAIL, or --file with a CSV of them.")
            entries = [(e, "") for e in emails]
        report = seats_assign(contract_id, entries, apply=not dry_run)
        counts = ", ".join(f"{n} {outcome}" for outcome, n in report.counts.items() if n)
        verb = "Would assign" if dry_run else "Assigned"
        free = "no cap" if report.free_before is None else f"{report.free_before} seats free"
        self.hint(
            f"{verb} {report.count('assigned')} of {len(report.rows)} rows to contract "
            f"{contract_id} ({free} before): {counts}."
            + (" Nothing was changed (--dry-run)." if dry_run else "")
        )
        rows = [r.as_row() for r in report.rows]
        if format == "json":
            self.emit_json(rows)
        else:
            self.emit_rows(rows, fmt=format, columns=ROW_KEYS, title="Seats")

    def list_assignments(
        self, *, contract_id: int, status: str | None, format: str, **_: Any
    ) -> None:
        rows = assignments_list(contract_id, status=status or "")
        self.emit_rows(rows, fmt=format, columns=LIST_KEYS, title="Seats assigned")

    def act(
        self, *, action: str, contract_id: int, emails: list[str], format: str, **_: Any
    ) -> None:
        """Each EMAIL on its own: one refused does not stop the others; exit 1 if any was."""
        do = assignment_remind if action == "remind" else assignment_revoke
        done = "reminded" if action == "remind" else "revoked"
        rows = []
        for email in emails:
            try:
                do(contract_id, email)
            except DomainError as exc:
                rows.append({"email": email, "outcome": exc.code, "message": exc.message})
            else:
                rows.append({"email": email.strip().lower(), "outcome": done, "message": ""})
        self.emit_rows(rows, fmt=format, columns=("email", "outcome", "message"), title="Seats")
        refused = [r for r in rows if r["outcome"] != done]
        if refused:
            raise CommandError(f"{len(refused)} of {len(rows)} not {done}: see the messages.")

    def reassign(
        self, *, contract_id: int, email: str, new_email: str, name: str, format: str, **_: Any
    ) -> None:
        report = assignment_reassign(contract_id, email, new_email, name=name)
        self.hint(f"Revoked the seat of {email.strip().lower()}.")
        rows = [r.as_row() for r in report.rows]
        if format == "json":
            self.emit_json(rows)
        else:
            self.emit_rows(rows, fmt=format, columns=ROW_KEYS, title="Seats")
