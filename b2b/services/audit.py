"""The audit trail of organizations, contracts, memberships and enrollment codes.

Every change, from any surface (a command, Wagtail, the Django admin, checkout, SSO login, a task),
is recorded by calling ``audit_record`` in the transaction that makes it. An entry says when, who
(a user, or the process that acted), through which surface (``main.actors.Via``), the action, and
what changed: ``{field: {"before": x, "after": y}}`` for fields, and for the code set a summary of
counts (``{"created": 200, "deactivated": 0, ...}``), never one row per code.

Entries are Wagtail's own page log entries (``wagtail.models.PageLogEntry``) on the organization's
or the contract's page, with actions in the ``b2b.`` namespace: they show in the page's History
and in Wagtail's site history report next to Wagtail's own entries, they survive the page's
deletion, and they work on every database Django supports. ``data`` holds ``via``, ``actor`` (a
readable name, kept even if the user is deleted) and ``changes``; ``user`` links the acting user.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from wagtail.models import Page, PageLogEntry

from b2b.exceptions import ContractNotFound
from b2b.models import ContractPage
from main.actors import Actor, actor_current

#: The actions recorded (stored as ``b2b.<action>``), with the label Wagtail's history shows.
AUDIT_ACTIONS: dict[str, str] = {
    "organization.create": "Organization created",
    "organization.change": "Organization changed",
    "organization.delete": "Organization deleted",
    "contract.create": "Contract created",
    "contract.change": "Contract changed",
    "contract.delete": "Contract deleted",
    "courseware.add": "Courseware added to the contract",
    "courseware.remove": "Courseware removed from the contract",
    "courseware.change": "Contract run changed",
    "membership.add": "Learner attached to the contract",
    "membership.remove": "Learner detached from the contract",
    "manager.add": "Manager added to the organization",
    "assignment.add": "Seats assigned by email",
    "assignment.remind": "Seat invitation sent again",
    "assignment.revoke": "Seat assignment revoked",
    "manager.remove": "Manager removed from the organization",
    "codes.adjust": "Enrollment codes adjusted",
    "codes.deactivate": "Enrollment codes deactivated",
}
PREFIX = "b2b."
HISTORY_KEYS = ("at", "actor", "via", "action", "changes")


def plain(value: Any) -> Any:
    """A value as entries store it: ISO dates, 2-decimal money strings, UUID strings."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def values_of(instance: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """``{name: plain(instance.<attribute>)}`` for a mapping of audit name → model attribute."""
    return {name: plain(getattr(instance, attribute)) for name, attribute in fields.items()}


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": b, "after": a}}`` for each field whose value differs (missing: None)."""
    changes: dict[str, dict[str, Any]] = {}
    for key in list(before) + [k for k in after if k not in before]:
        old, new = plain(before.get(key)), plain(after.get(key))
        if old != new:
            changes[key] = {"before": old, "after": new}
    return changes


@dataclass(frozen=True)
class PageRef:
    """An organization or contract page known by its ID and name, not loaded (checkout and SSO
    know the contract by the facts they read under its lock): what ``audit_record`` needs."""

    model: type[Page]
    pk: int
    title: str


def live_values(model: type[Page], pk: int, fields: Mapping[str, str]) -> dict[str, Any]:
    """A page's values as its row holds them now (``{name: plain value}`` for a mapping of audit
    name → model attribute), or ``{}`` when it has no row; one query on the page's own table."""
    # Ordered by pk, not Wagtail's default (the path), which would join the page table.
    row = model.objects.filter(pk=pk).values(*fields.values()).order_by("pk").first()
    return {name: plain(row[attr]) for name, attr in fields.items()} if row else {}


def audit_entry(
    page: Page | PageRef,
    *,
    action: str,
    changes: Mapping[str, Any],
    actor: Actor | None = None,
    page_id: int | None = None,
) -> PageLogEntry:
    """The entry ``audit_record`` writes, not saved: for a writer that saves it in the statement
    of the change it records (``main.rows.rows_insert``). Same arguments and errors."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: one of {', '.join(AUDIT_ACTIONS)}")
    actor = actor or actor_current()
    person = actor.person
    model = page.model if isinstance(page, PageRef) else page
    return PageLogEntry(
        page_id=page_id or page.pk,
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
        label=page.title or str(page),
        action=PREFIX + action,
        data={"via": actor.via, "actor": actor.label, "changes": dict(changes)},
        timestamp=timezone.now(),
        user_id=person.pk if person is not None else None,
        deleted=action.endswith(".delete"),
    )


def audit_record(
    page: Page | PageRef,
    *,
    action: str,
    changes: Mapping[str, Any],
    actor: Actor | None = None,
    page_id: int | None = None,
) -> PageLogEntry:
    """Record one change to an organization or contract (or its learners, courseware or codes).

    ``page``: the ``OrganizationPage`` or ``ContractPage`` the change is about, or a ``PageRef``
    to one (for a page being deleted, pass ``page_id`` too: its primary key may already be
    cleared). ``action``: a key of
    ``AUDIT_ACTIONS``. ``changes``: JSON-ready, as the module docstring says. ``actor``: who acts;
    default the one the interface set (``main.actors.actor_current``). Call it inside the
    transaction that makes the change, so the entry and the change commit or roll back together.
    Raises ``ValueError`` for an unknown action.
    """
    entry = audit_entry(page, action=action, changes=changes, actor=actor, page_id=page_id)
    # Not ``save()``: Wagtail's runs ``full_clean``, which re-reads the content type, the user and
    # the page (three queries on every checkout and SSO login). The action is checked above and
    # the foreign keys by the database.
    return PageLogEntry.objects.bulk_create([entry])[0]


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor: str
    via: str
    action: str
    changes: dict[str, Any]
    #: The acting user's full name now ("" for a process or a user without a name).
    name: str = ""

    @property
    def who(self) -> str:
        """For people: ``"Ada Lovelace <ada@example.com>"``, or the actor as recorded."""
        return (
            f"{self.name} <{self.actor}>" if self.name and self.name != self.actor else self.actor
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "via": self.via,
            "action": self.action,
            "changes": self.changes,
        }


def audit_history(page_id: int) -> list[HistoryEntry]:
    """The page's entries, oldest first, with the acting user's name (one query). Works for
    deleted pages too."""
    entries = (
        PageLogEntry.objects.filter(page_id=page_id, action__startswith=PREFIX)
        .select_related("user")
        .order_by("timestamp", "pk")
    )
    return [
        HistoryEntry(
            at=entry.timestamp,
            actor=entry.data.get("actor", ""),
            via=entry.data.get("via", ""),
            action=entry.action.removeprefix(PREFIX),
            changes=entry.data.get("changes", {}),
            name=entry.user.get_full_name().strip() if entry.user is not None else "",
        )
        for entry in entries
    ]


#: How people read the stored field names (``CONTRACT_FIELDS``, ``ORGANIZATION_FIELDS``, ...).
FIELD_LABELS: dict[str, str] = {
    "max_learners": "cap",
    "price": "price",
    "start": "start",
    "end": "end",
    "integration_type": "integration",
    "org_key": "org key",
    "sso_organization_id": "SSO organization ID",
}

#: How people read the stored surfaces (``main.actors.Via``).
VIA_LABELS: dict[str, str] = {
    "command": "command",
    "wagtail": "Wagtail",
    "admin": "Django Admin",
    "web": "website",
    "portal": "managers' portal",
    "checkout": "checkout",
    "sso": "SSO login",
    "join": "joining with a code",
    "task": "background task",
    "process": "process",
}


def via_label(via: str) -> str:
    """The surface as people name it: ``"wagtail"`` → ``"Wagtail"``, ``"admin"`` →
    ``"Django Admin"``; an unknown one as stored."""
    return VIA_LABELS.get(via, via)


def changes_text(changes: Mapping[str, Any]) -> str:
    """One line for people: ``cap 200 → 100; price — → 25.00`` or ``created 200``; booleans
    read yes/no, lists are joined with commas."""

    def show(value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "—"
        return str(value)

    parts = []
    # Sorted: PostgreSQL's jsonb keeps no key order, and the line must read the same anywhere.
    for key, value in sorted(changes.items()):
        label = FIELD_LABELS.get(key, key.replace("_", " "))
        if isinstance(value, dict) and ("before" in value or "after" in value):
            parts.append(f"{label} {show(value.get('before'))} → {show(value.get('after'))}")
        else:
            parts.append(f"{label} {show(value)}")
    return "; ".join(parts)


def codes_adjusted_record(report: Any) -> PageLogEntry | None:
    """The audit entry of one run of the code adjustment (``b2b.services.codes.CodesReport``):
    counts of codes created, deactivated, made unlimited, deleted and re-priced, products
    re-priced, and usable codes after. Nothing when the run changed nothing or the contract is
    gone. One entry per run, never one per code."""
    if not report.changed:
        return None
    contract = ContractPage.objects.filter(pk=report.contract_id).first()
    if contract is None:
        return None
    changes = {
        "created": report.total("created"),
        "deactivated": report.total("deactivated"),
        "made unlimited": report.total("converted"),
        "deleted": report.total("deleted"),
        "re-priced": report.total("repriced"),
        "products re-priced": sum(1 for p in report.products if p.product_repriced),
        "usable": report.total("usable_after"),
    }
    return audit_record(contract, action="codes.adjust", changes=changes)


def contract_history(contract_id: int) -> list[HistoryEntry]:
    """A contract's audit trail, oldest first (``b2b_list history``). A deleted contract's trail
    is kept; an ID that never was a contract raises ``ContractNotFound``."""
    entries = [e for e in audit_history(contract_id) if not e.action.startswith("organization.")]
    if not entries and not ContractPage.objects.filter(pk=contract_id).exists():
        raise ContractNotFound(
            f"No contract with ID {contract_id}: `manage.py b2b_list contracts` lists them."
        )
    return entries
