"""``manage.py b2b_list organizations | contracts | courseware | learners | history``: list the B2B
data."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._options import positive_id
from b2b.services.audit import HISTORY_KEYS, changes_text, contract_history
from b2b.services.code_operations import contract_codes_status
from b2b.services.codes import codes_csv_write
from b2b.services.contracts import contract_get
from b2b.services.listing import (
    CONTRACT_KEYS,
    COURSEWARE_KEYS,
    ORGANIZATION_KEYS,
    contracts_list,
    courseware_list,
    organizations_list,
)
from b2b.services.memberships import LEARNER_KEYS, learners_list
from main.commands import DomainCommand, add_format_argument

CONTRACT_TABLE = (
    "id",
    "name",
    "organization",
    "integration_type",
    "active",
    "start",
    "end",
    "max_learners",
    "price",
    "learners",
)


class Command(DomainCommand):
    help = "List organizations, contracts, a contract's courseware, or export a contract's codes."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)
        orgs = sub.add_parser("organizations", help="List the organizations.")
        orgs.add_argument(
            "--org",
            "--organization",
            dest="organization_id",
            type=positive_id,
            help="Only this organization (ID).",
        )
        add_format_argument(orgs)
        orgs.set_defaults(handler=self.organizations)

        contracts = sub.add_parser(
            "contracts",
            help="List the contracts, or with --codes ID write a contract's codes CSV.",
        )
        contracts.add_argument(
            "--org",
            "--organization",
            dest="organization_id",
            type=positive_id,
            help="Only the contracts of this organization (ID).",
        )
        contracts.add_argument(
            "--codes",
            dest="codes_contract_id",
            type=positive_id,
            metavar="ID",
            help="Write this contract's enrollment codes to codes-ID.csv; with "
            "--format json, list every code with its status instead.",
        )
        contracts.add_argument(
            "--codes-out",
            type=Path,
            metavar="FILE",
            help="With --codes: write the CSV here instead of codes-ID.csv.",
        )
        add_format_argument(contracts)
        contracts.set_defaults(handler=self.contracts)

        courseware = sub.add_parser(
            "courseware", help="List a contract's runs, programs and courses."
        )
        courseware.add_argument(
            "--contract",
            dest="contract_id",
            type=positive_id,
            required=True,
            help="The contract's ID.",
        )
        add_format_argument(courseware)
        courseware.set_defaults(handler=self.courseware)

        learners = sub.add_parser(
            "learners", help="List a contract's attached learners: email, name, source, since."
        )
        learners.add_argument(
            "--contract",
            dest="contract_id",
            type=positive_id,
            required=True,
            help="The contract's ID.",
        )
        add_format_argument(learners)
        learners.set_defaults(handler=self.learners)

        history = sub.add_parser(
            "history",
            help="A contract's audit trail: when, who, through which surface, what changed.",
        )
        history.add_argument(
            "--contract",
            dest="contract_id",
            type=positive_id,
            required=True,
            help="The contract's ID (a deleted contract's ID works too).",
        )
        add_format_argument(history, choices=("table", "json"))
        history.set_defaults(handler=self.history)

    def organizations(self, *, organization_id: int | None, format: str, **_: Any) -> None:
        rows = organizations_list(organization_id=organization_id)
        self.emit_rows(rows, fmt=format, columns=ORGANIZATION_KEYS, title="Organizations")

    def contracts(
        self,
        *,
        organization_id: int | None,
        codes_contract_id: int | None,
        codes_out: Path | None,
        format: str,
        **_: Any,
    ) -> None:
        if codes_contract_id is not None:
            if organization_id is not None:
                raise CommandError(
                    "--codes ID names one contract: drop --org (it only filters the contract list)."
                )
            if format == "json":
                self.codes_json(codes_contract_id, codes_out)
            else:
                self.codes(codes_contract_id, codes_out)
            return
        if codes_out is not None:
            raise CommandError("--codes-out needs --codes ID (the contract whose codes to write).")
        rows = contracts_list(organization_id=organization_id)
        columns = CONTRACT_TABLE if format == "table" else CONTRACT_KEYS
        self.emit_rows(rows, fmt=format, columns=columns, title="Contracts")

    def codes(self, contract_id: int, codes_out: Path | None, *, quiet: bool = False) -> None:
        contract = contract_get(contract_id)
        path = codes_out or Path(f"codes-{contract.pk}.csv")
        if path.is_dir():
            raise CommandError(f"--codes-out {path} is a directory: give a file name.")
        try:
            count = codes_csv_write(contract, path)
        except ValueError:
            raise CommandError(
                f"--codes-out {path} exists and is not a regular file (a device or a link): "
                "give the name of a new or ordinary file."
            ) from None
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None
        if quiet:
            self.hint(f"Wrote {count} codes to {path}")
            return
        self.stdout.write(f"Wrote {count} codes to {path}")
        if count == 0:
            self.hint(
                "The contract has no usable codes: add courseware (b2b_courseware add), or check "
                "its type (free SSO contracts need none)."
            )

    def codes_json(self, contract_id: int, codes_out: Path | None) -> None:
        """Every code of the contract with its status, as one JSON list (streamed, one object a
        line); with ``--codes-out`` the CSV is written too."""
        # Closed on the way out, even when the reader goes away mid-list (`| head`): the query's
        # cursor is released while the database connection is still open.
        with contextlib.closing(contract_codes_status(contract_id)) as rows:
            first = next(rows, None)  # looks the contract up: an unknown ID is refused first
            if codes_out is not None:
                self.codes(contract_id, codes_out, quiet=True)
            if first is None:
                self.stdout.write("[]")
                return
            self.stdout.write("[")
            self.stdout.write("  " + json.dumps(first, ensure_ascii=False), ending="")
            for row in rows:
                self.stdout.write(",\n  " + json.dumps(row, ensure_ascii=False), ending="")
            self.stdout.write("\n]")

    def courseware(self, *, contract_id: int, format: str, **_: Any) -> None:
        rows = courseware_list(contract_id)
        self.emit_rows(
            rows, fmt=format, columns=COURSEWARE_KEYS, title=f"Courseware of contract {contract_id}"
        )

    def learners(self, *, contract_id: int, format: str, **_: Any) -> None:
        rows = learners_list(contract_id)
        self.emit_rows(
            rows, fmt=format, columns=LEARNER_KEYS, title=f"Learners of contract {contract_id}"
        )

    def history(self, *, contract_id: int, format: str, **_: Any) -> None:
        rows = [entry.as_row() for entry in contract_history(contract_id)]
        if format == "table":
            rows = [{**row, "changes": changes_text(row["changes"])} for row in rows]
        self.emit_rows(
            rows, fmt=format, columns=HISTORY_KEYS, title=f"History of contract {contract_id}"
        )
