"""What an organization's managers see (SPEC §9): their organizations, each contract's seats,
codes and learners. Read-only; the portal (``b2b.manage_views``) and its API
(``b2b.manage_api``) show these, after ``manager_contract`` decided the manager may see the
contract.

Seats are the seat rule's own count (``b2b.services.seats.contract_facts``), read without the
lock: the figures a manager sees are the ones the next checkout would decide on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery

from b2b.models import (
    ContractMembership,
    ContractPage,
    OrganizationPage,
    SeatAssignment,
    SeatAssignmentCode,
)
from b2b.services.managers import managed_organizations
from b2b.services.overview import code_counts, contract_codes
from b2b.services.seats import contract_facts
from courses.models import CourseRunEnrollment
from ecommerce.models import code_redeemed, code_usable

#: The learner filters the portal offers (a membership's source).
SOURCES = ("sso", "code", "manual")
#: The code filters the portal offers.
CODE_STATUSES = ("usable", "redeemed", "deactivated")
LEARNER_KEYS = ("email", "name", "source", "since", "enrollments")
CODE_KEYS = ("code", "run", "title", "status", "assigned_to")
ASSIGNMENT_STATUSES = ("open", "joined", "revoked")
ASSIGNMENT_KEYS = ("id", "email", "name", "status", "assigned_on", "reminders", "mail_status")


@dataclass(frozen=True)
class ContractSeats:
    """One contract as its managers see it. ``cap`` None: uncapped (``free`` None too).
    ``attached``: learners attached; ``held``: seats held by orders awaiting payment; ``free``:
    seats left (never below 0). Codes: ``codes_usable``, ``codes_redeemed``."""

    id: int
    name: str
    organization_id: int
    organization: str
    integration_type: str
    in_force: bool
    active: bool
    start: dt.date | None
    end: dt.date | None
    cap: int | None
    attached: int
    held: int
    assigned: int
    free: int | None
    codes_usable: int
    codes_assigned: int
    codes_redeemed: int

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "organization_id": self.organization_id,
            "organization": self.organization,
            "integration_type": self.integration_type,
            "in_force": self.in_force,
            "active": self.active,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "cap": self.cap,
            "attached": self.attached,
            "held": self.held,
            "assigned": self.assigned,
            "free": self.free,
            "codes_usable": self.codes_usable,
            "codes_assigned": self.codes_assigned,
            "codes_redeemed": self.codes_redeemed,
        }


def manager_organization(user: Any, organization_id: int) -> OrganizationPage | None:
    """The organization if ``user`` manages it, else None (the caller answers 404)."""
    return managed_organizations(user).filter(pk=organization_id).first()


def manager_contract(user: Any, contract_id: int) -> ContractPage | None:
    """The contract if ``user`` manages its organization, else None (the caller answers 404,
    the same whether the contract exists or not)."""
    organizations = managed_organizations(user).values("pk")
    return (
        ContractPage.objects.filter(pk=contract_id, organization__in=organizations)
        .select_related("organization")
        .first()
    )


def contract_seats(contract: ContractPage) -> ContractSeats:
    """The contract's seats and code counts (``ContractSeats``): the seat rule's facts (one
    statement) and the code counts (three)."""
    facts = contract_facts(contract.pk, user=_NOBODY, for_update=False)
    counts = code_counts(contract.pk)
    return ContractSeats(
        id=contract.pk,
        name=contract.name,
        organization_id=contract.organization_id or 0,
        organization=facts.organization_name,
        integration_type=contract.integration_type,
        in_force=contract.is_in_force(),
        active=contract.active,
        start=contract.contract_start,
        end=contract.contract_end,
        cap=facts.max_learners,
        attached=facts.seats.members,
        held=facts.seats.held,
        assigned=facts.seats.assigned,
        free=facts.seats_free,
        codes_usable=counts.usable,
        codes_assigned=SeatAssignmentCode.objects.filter(
            assignment__contract_id=contract.pk, assignment__status=SeatAssignment.Status.OPEN
        ).count(),
        codes_redeemed=counts.redeemed,
    )


#: No learner: the facts' learner terms then say nothing about anyone (ID 0 matches no row),
#: and the seat terms count everyone.
_NOBODY: Any = SimpleNamespace(pk=0)


def organization_contracts(organization: OrganizationPage) -> list[ContractSeats]:
    """The organization's contracts, by name, with their seats."""
    contracts = ContractPage.objects.filter(organization=organization).order_by("name", "pk")
    return [contract_seats(c) for c in contracts]


def contract_learners(
    contract: ContractPage, *, search: str = "", source: str = ""
) -> QuerySet[ContractMembership]:
    """The contract's attached learners, oldest first, filtered by ``search`` (in the email or
    name, any case) and ``source`` (one of ``SOURCES``; "" for all)."""
    rows = ContractMembership.objects.filter(contract=contract).select_related("user")
    if search:
        rows = rows.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    if source:
        rows = rows.filter(source=source)
    return rows.order_by("created_on", "pk")


def learner_rows(contract: ContractPage, memberships: list[ContractMembership]) -> list[dict]:
    """``memberships`` as rows (``LEARNER_KEYS``): ``since`` ISO 8601, ``enrollments`` the
    course runs of the contract each is enrolled in ``[{"run", "title", "active"}]``; one query
    for the enrollments whatever the number of rows."""
    users = [m.user_id for m in memberships]
    enrollments: dict[int, list[dict[str, Any]]] = {}
    for user_id, run, title, active in (
        CourseRunEnrollment.objects.filter(run__b2b_contract=contract, user_id__in=users)
        .order_by("run__courseware_id")
        .values_list("user_id", "run__courseware_id", "run__title", "active")
    ):
        enrollments.setdefault(user_id, []).append({"run": run, "title": title, "active": active})
    return [
        {
            "email": m.user.email,
            "name": m.user.get_full_name().strip(),
            "source": m.source,
            "since": m.created_on.isoformat(),
            "enrollments": enrollments.get(m.user_id, []),
        }
        for m in memberships
    ]


def contract_code_list(contract: ContractPage, *, status: str = "") -> QuerySet[Any]:
    """The contract's codes with their run, by run then code, filtered by ``status`` (one of
    ``CODE_STATUSES``; "" for all). Each row carries ``state`` (``usable``, ``redeemed`` or
    ``deactivated``) computed in the query."""
    codes = contract_codes(contract.pk)
    if status == "usable":
        codes = codes.filter(code_usable())
    elif status == "redeemed":
        codes = codes.filter(code_redeemed())
    elif status == "deactivated":
        codes = codes.filter(is_active=False)
    return (
        codes.annotate(
            used=code_redeemed(),
            usable=ExpressionWrapper(code_usable(), BooleanField()),
            assigned_to=Subquery(
                SeatAssignmentCode.objects.filter(
                    discount_id=OuterRef("pk"), assignment__status=SeatAssignment.Status.OPEN
                ).values("assignment__email")[:1]
            ),
        )
        .values(
            "discount_code",
            "is_active",
            "used",
            "usable",
            "assigned_to",
            "product_links__product__course_run__courseware_id",
            "product_links__product__course_run__title",
        )
        .order_by("product_links__product__course_run__courseware_id", "discount_code")
    )


def code_rows(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of ``contract_code_list`` as ``CODE_KEYS``."""
    return [
        {
            "code": c["discount_code"],
            "run": c["product_links__product__course_run__courseware_id"],
            "title": c["product_links__product__course_run__title"],
            "status": "usable" if c["usable"] else ("redeemed" if c["used"] else "deactivated"),
            "assigned_to": c["assigned_to"] or "",
        }
        for c in codes
    ]


def contract_assignments(contract: ContractPage, *, status: str = "", search: str = "") -> Any:
    """The contract's seat assignments, newest first, with their latest mail, filtered by
    ``status`` (one of ``ASSIGNMENT_STATUSES``; "" for all) and ``search`` (in the email)."""
    rows = SeatAssignment.objects.filter(contract=contract).select_related("mail")
    if status:
        rows = rows.filter(status=status)
    if search:
        rows = rows.filter(email__icontains=search)
    return rows.order_by("-created_on", "-pk")


def assignment_mail_status(assignment: SeatAssignment) -> str:
    """The latest invitation's status: the provider's word when it gave one (``delivered``,
    ``bounced``...), else ``queued``, ``sent`` or ``failed``; "" when none was sent."""
    mail = assignment.mail
    if mail is None:
        return ""
    return mail.provider_status or mail.status


def assignment_rows(assignments: Any) -> list[dict[str, Any]]:
    """Assignments as rows (``ASSIGNMENT_KEYS``)."""
    return [
        {
            "id": a.pk,
            "email": a.email,
            "name": a.name,
            "status": a.status,
            "assigned_on": a.created_on.isoformat(),
            "reminders": a.reminders,
            "mail_status": assignment_mail_status(a),
        }
        for a in assignments
    ]
