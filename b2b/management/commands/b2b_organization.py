"""``manage.py b2b_organization modify <org id>``: change an organization's name, description or
Keycloak organization ID (SPEC §1, §6).

``manage.py b2b_organization managers add|remove|list <org id> [EMAIL...]``: the organization's
managers (SPEC §9): add grants (and mails a notice, or an invitation to sign up to an address
with no account), remove takes it back, list shows them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from b2b.management.commands._options import positive_id
from b2b.services.listing import ORGANIZATION_KEYS, organizations_list
from b2b.services.managers import MANAGER_KEYS, managers_add, managers_list, managers_remove
from b2b.services.organizations import organization_modify, parse_sso_organization_id
from main.commands import DomainCommand, add_format_argument


class Command(DomainCommand):
    help = "Change an organization: its name, description or SSO organization ID."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = self.add_subcommands(parser)
        modify = sub.add_parser(
            "modify",
            help="Change an organization's name, description or SSO organization ID.",
            description=(
                "Change an organization. --sso-id sets the Keycloak organization ID that SSO "
                "logins are matched by; --no-sso-id clears it. Prints the organization."
            ),
        )
        modify.add_argument("organization_id", type=positive_id, help="The organization's ID.")
        sso = modify.add_mutually_exclusive_group()
        sso.add_argument(
            "--sso-id",
            metavar="UUID",
            help="The Keycloak organization ID (a UUID), unique to one organization.",
        )
        sso.add_argument(
            "--no-sso-id",
            action="store_true",
            help="Clear the SSO organization ID (its SSO logins no longer match).",
        )
        modify.add_argument("--name", help="New name (unique, case-insensitive).")
        modify.add_argument("--description", help="New description.")
        add_format_argument(modify)
        modify.set_defaults(handler=self.modify)

        managers = sub.add_parser(
            "managers",
            help="List, add or remove the organization's managers.",
            description=(
                "An organization's managers see and act on all its contracts in the managers' "
                "portal (/manage/). add: grant it to each EMAIL (an address with no account is "
                "mailed an invitation to sign up); remove: take it back; list: who has it."
            ),
        )
        managers.add_argument("action", choices=("add", "remove", "list"))
        managers.add_argument("organization_id", type=positive_id, help="The organization's ID.")
        managers.add_argument("emails", nargs="*", metavar="EMAIL", help="Email addresses.")
        add_format_argument(managers)
        managers.set_defaults(handler=self.managers)

    def modify(
        self,
        *,
        organization_id: int,
        sso_id: str | None,
        no_sso_id: bool,
        name: str | None,
        description: str | None,
        format: str,
        **_: Any,
    ) -> None:
        if sso_id is None and not no_sso_id and name is None and description is None:
            raise CommandError(
                "Nothing to change: give --sso-id UUID, --no-sso-id, --name or --description."
            )
        sso: Any = ...
        if no_sso_id:
            sso = None
        elif sso_id is not None:
            sso = parse_sso_organization_id(sso_id)
        organization, changes = organization_modify(
            organization_id, name=name, description=description, sso_organization_id=sso
        )
        if changes:
            fields = ", ".join(
                f"{key}: {c['before']!r} → {c['after']!r}" for key, c in changes.items()
            )
            self.hint(f"Changed organization {organization.pk}: {fields}.")
        else:
            self.hint(f"Organization {organization.pk} already had these values: nothing changed.")
        rows = organizations_list(organization_id=organization.pk)
        if format == "json":
            self.emit_json(rows[0])
        else:
            self.emit_rows(rows, fmt=format, columns=ORGANIZATION_KEYS, title="Organization")

    def managers(
        self, *, action: str, organization_id: int, emails: list[str], format: str, **_: Any
    ) -> None:
        if action == "list":
            if emails:
                raise CommandError("`managers list` takes no email addresses: give only the ID.")
            rows = managers_list(organization_id)
            self.emit_rows(rows, fmt=format, columns=MANAGER_KEYS, title="Managers")
            return
        if not emails:
            raise CommandError(f"`managers {action}` needs at least one EMAIL address.")
        change = managers_add if action == "add" else managers_remove
        rows = [c.as_row() for c in change(organization_id, emails)]
        self.emit_rows(rows, fmt=format, columns=("email", "outcome"), title="Managers")
