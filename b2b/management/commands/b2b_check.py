"""``manage.py b2b_check [--contract ID | --org ID] [--format table|json|csv] [--fix [--yes]]``:
whether every contract is whole, and the safe repairs.

Exit 0 when no error is found, 3 when any is (for cron and alerts), 1 for bad input or a refused
``--fix``, 2 for a malformed command line.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._options import positive_id
from b2b.services.check import (
    FINDING_KEYS,
    CheckResult,
    contracts_check,
    repairs_apply,
    repairs_plan,
)
from b2b.services.codes import codes_plan
from b2b.services.contracts import contract_get
from main.commands import DomainCommand, add_format_argument

#: The exit status when the check found at least one error.
EXIT_ERRORS = 3


def confirm(question: str) -> bool:
    """Ask on the terminal (the question on stderr, so stdout keeps only the findings); only
    ``y`` or ``yes`` agrees; end of input or an interrupt is a no."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = input()
    except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C: a no
        sys.stderr.write("\n")
        return False
    return answer.strip().lower() in ("y", "yes")


def interactive() -> bool:
    return sys.stdin.isatty()


class Command(DomainCommand):
    help = (
        "Check every contract (or one, or an organization's): seats, codes, products, "
        "redemptions, runs, memberships. Exit 3 when an error is found. --fix applies the safe "
        "repairs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--contract", dest="contract_id", type=positive_id, help="Only this contract (ID)."
        )
        scope.add_argument(
            "--org",
            "--organization",
            dest="organization_id",
            type=positive_id,
            help="Only this organization's contracts (ID).",
        )
        add_format_argument(parser)
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Apply the safe repairs (code adjustment, product prices, Open edX syncs, "
            "products of removed runs) after showing the plan; never deletes a redemption, an "
            "enrollment or a membership.",
        )
        parser.add_argument(
            "--yes", action="store_true", help="With --fix: do not ask for confirmation."
        )
        parser.set_defaults(handler=self.check)

    def check(
        self,
        *,
        contract_id: int | None,
        organization_id: int | None,
        format: str,
        fix: bool,
        yes: bool,
        **_: Any,
    ) -> None:
        if yes and not fix:
            raise CommandError("--yes only confirms --fix: add --fix, or drop --yes.")
        result = contracts_check(contract_id=contract_id, organization_id=organization_id)
        if fix:
            result = self.fix(result, contract_id, organization_id, yes=yes)
        self.emit_rows(
            [f.as_row() for f in result.findings],
            fmt=format,
            columns=FINDING_KEYS,
            title="Contract check",
        )
        self.hint(result.summary())
        if result.errors:
            raise CommandError(
                f"{result.errors} error(s) found; the fix column says how to mend each.",
                returncode=EXIT_ERRORS,
            )

    def fix(
        self,
        result: CheckResult,
        contract_id: int | None,
        organization_id: int | None,
        *,
        yes: bool,
    ) -> CheckResult:
        repairs = repairs_plan(result)
        if not repairs:
            self.hint("Nothing to repair automatically.")
            return result
        self.hint("Repairs to apply:")
        for repair in repairs:
            self.hint(f"  - {repair.label}")
            if repair.action == "codes":  # what the adjustment would do, as its dry run says
                self.hint(f"    plan: {codes_plan(contract_get(repair.target)).summary()}")
        if not yes:
            if not interactive():
                raise CommandError(
                    "--fix asks for confirmation and there is no terminal to ask on: add --yes "
                    "to apply the repairs above. Nothing was changed."
                )
            if not confirm("Apply these repairs? [y/N] "):
                raise CommandError("Repairs not applied: nothing was changed.")
        for line in repairs_apply(repairs):
            self.hint(line)
        return contracts_check(contract_id=contract_id, organization_id=organization_id)
