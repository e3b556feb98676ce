"""``manage.py b2b_contract create | modify | courseware``: manage organizations and contracts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._options import (
    end_date_type,
    learner_cap,
    positive_id,
    price_type,
    start_date_type,
)
from b2b.management.commands.b2b_courseware import CoursewareCommandMixin
from b2b.services.contracts import UNSET, contract_create, contract_modify
from b2b.services.listing import contract_row
from main.commands import DomainCommand, add_format_argument


class Command(CoursewareCommandMixin, DomainCommand):
    help = "Create and modify B2B contracts (and their organizations); add courseware to them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)

        create = sub.add_parser(
            "create",
            help="Create a contract, and with --create its organization.",
            description=(
                "Create a contract for an organization, looked up by name then by org key. "
                "Add --create --org-key KEY to create a new organization. Prints the new "
                "contract's ID."
            ),
        )
        create.add_argument("organization", help="The organization's name (or org key).")
        create.add_argument("name", help="The contract's name (a slug is made from it).")
        create.add_argument("integration_type", choices=["sso", "non-sso"], help="sso or non-sso.")
        create.add_argument(
            "--create",
            action="store_true",
            dest="create_organization",
            help="Create the organization if it does not exist (needs --org-key).",
        )
        create.add_argument(
            "--org-key", help="The new organization's key: 1-30 letters, digits or _."
        )
        create.add_argument(
            "--sso-id", metavar="UUID", help="With --create: the new organization's Keycloak ID."
        )
        create.add_argument("--start", type=start_date_type, help="Start date, YYYY-MM-DD.")
        create.add_argument("--end", type=end_date_type, help="End date (inclusive), YYYY-MM-DD.")
        create.add_argument("--max-learners", type=learner_cap, help="Learner cap (at least 1).")
        create.add_argument(
            "--price",
            type=price_type,
            help="Fixed enrollment price, 0.00-99999.99 (default: free).",
        )
        create.add_argument("--description", default="", help="A description of the contract.")
        add_format_argument(create, choices=("table", "json"))
        create.set_defaults(handler=self.create)

        modify = sub.add_parser(
            "modify",
            help="Change a contract; enrollment codes are adjusted afterwards.",
            description=(
                "Change a contract's fields. Every change except a deactivation re-adjusts the "
                "contract's products and enrollment codes. Existing runs keep their dates."
            ),
        )
        modify.add_argument("contract_id", type=positive_id, help="The contract's ID.")
        dates = modify.add_mutually_exclusive_group()
        dates.add_argument("--start", type=start_date_type, default=UNSET, help="New start date.")
        dates.add_argument(
            "--no-start-date",
            action="store_const",
            dest="start",
            const=None,
            help="Remove the start date.",
        )
        ends = modify.add_mutually_exclusive_group()
        ends.add_argument("--end", type=end_date_type, default=UNSET, help="New end date.")
        ends.add_argument(
            "--no-end-date",
            action="store_const",
            dest="end",
            const=None,
            help="Remove the end date.",
        )
        caps = modify.add_mutually_exclusive_group()
        caps.add_argument(
            "--max-learners", type=learner_cap, default=UNSET, help="New learner cap."
        )
        caps.add_argument(
            "--no-learner-cap",
            action="store_const",
            dest="max_learners",
            const=None,
            help="Remove the learner cap.",
        )
        prices = modify.add_mutually_exclusive_group()
        prices.add_argument("--price", type=price_type, default=UNSET, help="New fixed price.")
        prices.add_argument(
            "--no-price",
            action="store_const",
            dest="price",
            const=None,
            help="Make the contract free (codes become $0 fixed-price).",
        )
        states = modify.add_mutually_exclusive_group()
        states.add_argument(
            "--active",
            action="store_const",
            dest="active",
            const=True,
            default=UNSET,
            help="Activate the contract.",
        )
        states.add_argument(
            "--inactive",
            "--delete",
            action="store_const",
            dest="active",
            const=False,
            help="Deactivate the contract (nothing is deleted).",
        )
        modify.add_argument(
            "--integration-type",
            choices=["sso", "non-sso"],
            default=UNSET,
            help="Switch between sso and non-sso.",
        )
        modify.add_argument("--description", default=UNSET, help="New description.")
        modify.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would change (fields, products and enrollment codes), "
            "and change nothing.",
        )
        add_format_argument(modify, choices=("table", "json"))
        modify.set_defaults(handler=self.modify)

        courseware = sub.add_parser(
            "courseware",
            help="Add (or with --remove, remove) a course, run or program; same as b2b_courseware.",
        )
        self.add_courseware_arguments(courseware)
        courseware.add_argument(
            "--remove", action="store_true", help="Remove the courseware from the contract instead."
        )
        courseware.set_defaults(handler=self.courseware)

    def create(
        self,
        *,
        organization: str,
        name: str,
        integration_type: str,
        create_organization: bool,
        org_key: str | None,
        sso_id: str | None,
        start: Any,
        end: Any,
        max_learners: int | None,
        price: Any,
        description: str,
        format: str,
        **_: Any,
    ) -> None:
        result = contract_create(
            organization=organization,
            name=name,
            integration_type=integration_type,
            create_organization=create_organization,
            org_key=org_key,
            start=start,
            end=end,
            max_learners=max_learners,
            price=price,
            description=description,
            sso_organization_id=sso_id,
        )
        contract, org = result.contract, result.organization
        if result.organization_created:
            sso = f", SSO ID {org.sso_organization_id}" if org.sso_organization_id else ""
            self.hint(
                f"Created organization {org.name!r} (ID {org.pk}, org key {org.org_key}{sso})."
            )
        self.hint(
            f"Created contract {contract.name!r} (ID {contract.pk}, slug {contract.slug}) for "
            f"{org.name!r}. Next: manage.py b2b_courseware add {contract.pk} <readable ID>"
        )
        if format == "json":
            self.emit_json(contract_row(contract, learners=0))
        else:
            self.stdout.write(str(contract.pk))

    def modify(self, *, contract_id: int, dry_run: bool, format: str, **options: Any) -> None:
        fields = {
            key: options[key]
            for key in (
                "start",
                "end",
                "max_learners",
                "price",
                "active",
                "integration_type",
                "description",
            )
        }
        result = contract_modify(
            contract_id, dry_run=dry_run, progress=self.codes_progress(), **fields
        )
        changes = [{"field": c.field, "before": c.before, "after": c.after} for c in result.changes]
        if format == "json":
            document: dict[str, Any] = {
                "contract_id": contract_id,
                "dry_run": dry_run,
                "changes": changes,
                "codes_adjustment_queued": result.codes_queued and not dry_run,
            }
            if dry_run:
                document["plan"] = result.plan.as_dict() if result.plan else None
            self.emit_json(document)
            return
        verb = "Would change" if dry_run else "Changed"
        if changes:
            self.emit_rows(
                changes,
                fmt="table",
                columns=("field", "before", "after"),
                title=f"{verb} contract {contract_id}",
            )
        else:
            verb = "would change" if dry_run else "changed"
            self.stdout.write(f"Contract {contract_id}: no field {verb}.")
        if dry_run:
            if result.codes_queued:
                self.show_plan(result.plan)
            else:
                self.hint("A deactivation alone leaves products and enrollment codes as they are.")
        elif result.codes_queued:
            self.codes_outcome(result.codes, contract_id)

    def courseware(self, *, remove: bool, **options: Any) -> None:
        if remove and options.get("no_create_runs"):
            raise CommandError("--no-create-runs only applies when adding: drop it with --remove.")
        if remove:
            self.remove(**options)
        else:
            self.add(**options)
