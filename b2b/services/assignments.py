"""Seats assigned by email (SPEC §9): the preview and the assignment, one at a time or a list.

``seats_assign`` takes rows (email, name) in order and gives each an outcome:

- ``assigned``: a seat is reserved for the email (an open ``SeatAssignment``) and, on a capped
  contract, one usable one-time code per product of the contract is held for it;
- ``already-assigned``: the email has an open assignment on the contract already;
- ``already-attached``: a learner attached to the contract has this email (verified, or the
  account's address);
- ``no-seat``: the contract has no free seat left for it (rows are served in order), or no usable
  code left to hold;
- ``invalid-email``: not an email address; ``duplicate-row``: the email came earlier in the list.

Rows are independent: one row's refusal does not stop the others. With ``apply`` false nothing is
written and nothing is locked (a preview); with ``apply`` the decision is made again under the
contract lock (``b2b.services.seats.contract_facts``), the seats counted by the one count
(``SeatCount.assigned``), so assignments racing joins and checkouts never oversell. Applying the
same list again assigns nothing new (every row is ``already-assigned``).

Each assignment mails an invitation (``main.mail.mail_queue``, after commit) with a join link,
and one audit entry per call records how many were assigned (``assignment.add``).
A fixed number of statements per call, plus a few per batch (``BATCH`` emails looked up,
1,000 rows written, invitations included: ``main.mail.mail_queue_many``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from b2b.exceptions import (
    ContractInactive,
    InvalidContractInput,
)
from b2b.models import ContractMembership, ContractPage, SeatAssignment, SeatAssignmentCode
from b2b.services.audit import audit_record
from b2b.services.contracts import contract_get
from b2b.services.seats import ContractFacts, contract_facts
from ecommerce.models import Discount, Product, code_usable
from main.actors import Actor, actor_current
from main.mail import MailToQueue, mail_queue, mail_queue_many, site_url
from main.models import User
from main.params import email_parse

OUTCOMES = (
    "assigned",
    "already-assigned",
    "already-attached",
    "no-seat",
    "invalid-email",
    "duplicate-row",
)
ROW_KEYS = ("line", "email", "name", "outcome")
#: Emails per ``IN (...)`` list.
BATCH = 900
#: At most this many emails are named in one audit entry (the count is always there).
AUDIT_EMAILS = 50
MAX_NAME = 255


@dataclass(frozen=True)
class AssignmentRow:
    """One row's outcome: ``line`` (1-based, in the list or file), ``email`` as stored
    (lowercase) or as given when invalid, ``name``, ``outcome`` (one of ``OUTCOMES``)."""

    line: int
    email: str
    name: str
    outcome: str

    def as_row(self) -> dict[str, Any]:
        return {"line": self.line, "email": self.email, "name": self.name, "outcome": self.outcome}


@dataclass
class AssignmentReport:
    """What ``seats_assign`` did (``applied``) or would do: the rows in order, and the seats
    free before (None: uncapped)."""

    contract_id: int
    applied: bool
    free_before: int | None
    rows: list[AssignmentRow] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        """``{outcome: rows}`` for every outcome, in ``OUTCOMES`` order."""
        return {outcome: self.count(outcome) for outcome in OUTCOMES}


def assignment_rows_read(text: str) -> list[tuple[str, str]]:
    """The rows of an uploaded list: CSV ``email[,name]`` (UTF-8, any line ending), as
    ``(email, name)``; a first row whose first cell is ``email`` is a header; blank lines are
    skipped. The report numbers the rows kept from 1."""
    rows: list[tuple[str, str]] = []
    for index, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff")))):
        if not cells or not "".join(cells).strip():
            continue
        first = cells[0].strip()
        if index == 0 and first.lower() in ("email", "e-mail", "email address"):
            continue
        rows.append((first, cells[1].strip() if len(cells) > 1 else ""))
    return rows


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _open_emails(contract_id: int, emails: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(emails):
        found.update(
            SeatAssignment.objects.filter(
                contract_id=contract_id, status=SeatAssignment.Status.OPEN, email__in=chunk
            ).values_list("email", flat=True)
        )
    return found


def _attached_emails(contract_id: int, emails: Sequence[str]) -> set[str]:
    """The emails among ``emails`` of learners attached to the contract: a verified address of
    theirs, or their account's address."""
    found: set[str] = set()
    members = ContractMembership.objects.filter(contract_id=contract_id).values("user_id")
    for chunk in _chunks(emails):
        found.update(
            EmailAddress.objects.annotate(low=Lower("email"))
            .filter(low__in=chunk, verified=True, user_id__in=members)
            .values_list("low", flat=True)
        )
        found.update(
            User.objects.annotate(low=Lower("email"))
            .filter(low__in=chunk, pk__in=members)
            .values_list("low", flat=True)
        )
    return found


def _contract_products(contract_id: int) -> list[Product]:
    return list(
        Product.objects.filter(course_run__b2b_contract_id=contract_id, is_active=True).order_by(
            "pk"
        )
    )


def _free_codes(product: Product, count: int, *, lock: bool) -> list[int]:
    """Up to ``count`` IDs of the product's usable one-time codes held by no open assignment,
    oldest first; locking them (skipping any a checkout holds) when ``lock``."""
    if count <= 0:
        return []
    held = SeatAssignmentCode.objects.filter(assignment__status=SeatAssignment.Status.OPEN).values(
        "discount_id"
    )
    codes = (
        Discount.objects.filter(code_usable(), product_links__product=product)
        .filter(redemption_type=Discount.RedemptionType.ONE_TIME)
        .exclude(pk__in=held)
        .order_by("pk")
    )
    if lock and connection.features.has_select_for_update_skip_locked:
        codes = codes.select_for_update(skip_locked=True, of=("self",))
    return list(codes.values_list("pk", flat=True)[:count])


#: The "user" the seat rules are read for when no learner is checking out: none of the
#: contract's codes is theirs.
NOBODY: Any = type("Nobody", (), {"pk": 0})()


def _check_open(facts: ContractFacts) -> None:
    ends = facts.ends_at
    if not facts.active or (ends is not None and ends < timezone.now()):
        raise ContractInactive(
            f"Contract {facts.id} ({facts.name!r}) is not in force (inactive or ended): its "
            "seats cannot be assigned. Activate it or extend its end date first."
        )


def seats_assign(
    contract_id: int,
    entries: Sequence[tuple[str, str]],
    *,
    apply: bool,
    actor: Actor | None = None,
) -> AssignmentReport:
    """Preview (``apply`` false) or make (``apply``) the assignment of ``entries`` — ``(email,
    name)`` in order — to the contract's seats, as the module docstring says. Raises
    ``ContractNotFound``, ``ContractInactive`` (an inactive or ended contract: nothing is
    assigned) and ``InvalidContractInput`` for an empty list."""
    if not entries:
        raise InvalidContractInput("Give at least one email address to assign a seat to.")
    contract_get(contract_id)
    actor = actor or actor_current()
    with transaction.atomic():
        facts = contract_facts(contract_id, user=NOBODY, for_update=apply)
        _check_open(facts)
        report = AssignmentReport(contract_id, applied=apply, free_before=facts.seats_free)
        seen: set[str] = set()
        valid: list[str] = []
        for line, (raw, name) in enumerate(entries, start=1):
            email = email_parse(raw)
            name = (name or "").strip()[:MAX_NAME]
            if email is None:
                report.rows.append(AssignmentRow(line, raw.strip(), name, "invalid-email"))
            elif email in seen:
                report.rows.append(AssignmentRow(line, email, name, "duplicate-row"))
            else:
                seen.add(email)
                valid.append(email)
                report.rows.append(AssignmentRow(line, email, name, "pending"))
        assigned_already = _open_emails(contract_id, valid)
        attached = _attached_emails(contract_id, valid)
        wanted = [
            r
            for r in report.rows
            if r.outcome == "pending"
            and r.email not in assigned_already
            and r.email not in attached
        ]
        room = len(wanted) if facts.seats_free is None else min(len(wanted), facts.seats_free)
        codes: dict[int, list[int]] = {}
        if facts.max_learners is not None:
            for product in _contract_products(contract_id):
                codes[product.pk] = _free_codes(product, room, lock=apply)
                room = min(room, len(codes[product.pk]))
        winners = {id(r) for r in wanted[:room]}
        outcome_rows = []
        for r in report.rows:
            if r.outcome != "pending":
                outcome_rows.append(r)
                continue
            if r.email in attached:
                outcome = "already-attached"
            elif r.email in assigned_already:
                outcome = "already-assigned"
            elif id(r) in winners:
                outcome = "assigned"
            else:
                outcome = "no-seat"
            outcome_rows.append(AssignmentRow(r.line, r.email, r.name, outcome))
        report.rows = outcome_rows
        if apply and room:
            _write(contract_id, facts, report, codes, actor)
    return report


def _write(
    contract_id: int,
    facts: ContractFacts,
    report: AssignmentReport,
    codes: dict[int, list[int]],
    actor: Actor,
) -> None:
    rows = [r for r in report.rows if r.outcome == "assigned"]
    person = actor.person
    made = SeatAssignment.objects.bulk_create(
        [
            SeatAssignment(
                contract_id=contract_id,
                email=r.email,
                name=r.name,
                assigned_by=person,
            )
            for r in rows
        ],
        batch_size=1000,
    )
    SeatAssignmentCode.objects.bulk_create(
        [
            SeatAssignmentCode(assignment=assignment, discount_id=ids[index])
            for ids in codes.values()
            for index, assignment in enumerate(made)
        ],
        batch_size=1000,
    )
    contract = ContractPage.objects.select_related("organization").get(pk=contract_id)
    first_codes = _first_codes(made, codes)
    fallback = contract_join_link(contract)
    mails = mail_queue_many(
        [
            MailToQueue(
                to=a.email,
                template=INVITATION,
                context=_invitation_context(
                    a,
                    contract,
                    link=join_link(first_codes[a.pk]) if a.pk in first_codes else fallback,
                    reminder=False,
                ),
                key=_invitation_key(a, reminder=False),
            )
            for a in made
        ]
    )
    for assignment, mail in zip(made, mails, strict=True):
        assignment.mail = mail
    SeatAssignment.objects.bulk_update(made, ["mail"], batch_size=1000)
    emails = [a.email for a in made]
    audit_record(
        facts.page,
        action="assignment.add",
        changes={
            "assigned": len(made),
            "emails": emails[:AUDIT_EMAILS] + (["…"] if len(emails) > AUDIT_EMAILS else []),
        },
        actor=actor,
    )


def _first_codes(made: list[SeatAssignment], codes: dict[int, list[int]]) -> dict[int, str]:
    """For each new assignment, the text of the first code it holds (its join link)."""
    if not codes:
        return {}
    first_product = min(codes)
    ids = codes[first_product][: len(made)]
    texts = dict(Discount.objects.filter(pk__in=ids).values_list("pk", "discount_code"))
    return {a.pk: texts[ids[i]] for i, a in enumerate(made) if i < len(ids)}


def join_link(code: str) -> str:
    """The join link of an enrollment code (``/join/<code>/``), absolute."""
    return site_url(reverse("join-code", args=[code]))


def contract_join_link(contract: ContractPage) -> str:
    """The link for an assignment that holds no code (an uncapped contract): any usable code of
    the contract's (its unlimited codes), else the login page (an SSO contract's learners come by
    their organization's login)."""
    code = (
        Discount.objects.filter(
            code_usable(), product_links__product__course_run__b2b_contract_id=contract.pk
        )
        .order_by("pk")
        .values_list("discount_code", flat=True)
        .first()
    )
    return join_link(code) if code else site_url(reverse("account_login"))


INVITATION = "b2b/mail/seat_invitation"


def _invitation_context(
    assignment: SeatAssignment, contract: ContractPage, *, link: str, reminder: bool
) -> dict[str, Any]:
    return {
        "name": assignment.name,
        "organization": contract.organization.name if contract.organization else "",
        "contract": contract.name,
        "link": link,
        "reminder": reminder,
        "email": assignment.email,
    }


def _invitation_key(assignment: SeatAssignment, *, reminder: bool) -> str:
    kind = "reminder" if reminder else "invitation"
    return f"seat-{kind}:{assignment.pk}:{assignment.reminders}"


def invitation_queue(
    assignment: SeatAssignment, contract: ContractPage, *, link: str, reminder: bool
) -> Any:
    """Queue the invitation (or a reminder) for ``assignment``: the organization, the contract,
    and the join link. Returns the ``OutgoingMail``."""
    return mail_queue(
        assignment.email,
        template=INVITATION,
        context=_invitation_context(assignment, contract, link=link, reminder=reminder),
        key=_invitation_key(assignment, reminder=reminder),
        new=not reminder,
    )
