"""Seats assigned by email, after the assignment (SPEC §9): listing them, reminders (by hand and
by Celery beat), revocation and reassignment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Prefetch
from django.utils import timezone

from b2b.exceptions import (
    AssignmentNotFound,
    InvalidContractInput,
    RemindedRecently,
)
from b2b.models import ContractPage, SeatAssignment, SeatAssignmentCode
from b2b.services.assignments import (
    NOBODY,
    AssignmentReport,
    contract_join_link,
    invitation_queue,
    join_link,
    seats_assign,
)
from b2b.services.audit import PageRef, audit_record
from b2b.services.codes import codes_adjust_and_record, codes_adjust_queue
from b2b.services.contracts import contract_get
from b2b.services.seats import contract_facts
from ecommerce.models import Discount, code_usable
from main.actors import Actor, Via, actor_current
from main.params import email_parse

#: The shortest time between two mails of one seat (its invitation or a reminder).
REMIND_EVERY = dt.timedelta(days=1)
LIST_KEYS = ("id", "email", "name", "status", "assigned_on", "reminders", "mail_status", "codes")


def assignments_list(contract_id: int, *, status: str = "") -> list[dict[str, Any]]:
    """The contract's seat assignments, oldest first (``LIST_KEYS``; ``mail_status`` is the
    latest mail's, the provider's word when it gave one; ``codes``, the enrollment codes an open
    assignment holds, which only its assignee can use). Raises ``ContractNotFound``."""
    contract_get(contract_id)
    held = SeatAssignmentCode.objects.select_related("discount").order_by("discount__discount_code")
    rows = (
        SeatAssignment.objects.filter(contract_id=contract_id)
        .select_related("mail")
        .prefetch_related(Prefetch("held_codes", queryset=held))
    )
    if status:
        rows = rows.filter(status=status)
    return [
        {
            "id": a.pk,
            "email": a.email,
            "name": a.name,
            "status": a.status,
            "assigned_on": a.created_on.isoformat(),
            "reminders": a.reminders,
            "mail_status": (a.mail.provider_status or a.mail.status) if a.mail else "",
            "codes": (
                [h.discount.discount_code for h in a.held_codes.all()]
                if a.status == SeatAssignment.Status.OPEN
                else []
            ),
        }
        for a in rows.order_by("created_on", "pk")
    ]


def _open_assignment(contract_id: int, email: str, *, lock: bool) -> SeatAssignment:
    normal = email_parse(email) or (email or "").strip()
    rows = SeatAssignment.objects.filter(
        contract_id=contract_id, email=normal, status=SeatAssignment.Status.OPEN
    ).select_related("contract__organization")
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.first()
    if found is None:
        raise AssignmentNotFound(
            f"Contract {contract_id} has no open seat assignment for {normal}: "
            f"`manage.py b2b_seats list {contract_id}` lists them."
        )
    return found


def _link_of(assignment: SeatAssignment) -> str:
    code = (
        assignment.held_codes.order_by("discount__product_links__product", "discount_id")
        .values_list("discount__discount_code", flat=True)
        .first()
    )
    return join_link(code) if code else contract_join_link(assignment.contract)


def assignment_remind(
    contract_id: int, email: str, *, actor: Actor | None = None, now: dt.datetime | None = None
) -> SeatAssignment:
    """Mail the open assignment's invitation again (a reminder, with the same link), at most
    once a day per seat: ``RemindedRecently`` when its last mail is less than a day old.
    Raises ``AssignmentNotFound``. Recorded (``assignment.remind``)."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _open_assignment(contract_id, email, lock=True)
        last = assignment.reminded_on or assignment.created_on
        if now - last < REMIND_EVERY:
            after = (last + REMIND_EVERY).isoformat(timespec="minutes")
            raise RemindedRecently(
                f"{assignment.email} was mailed about this seat less than a day ago: remind "
                f"again after {after}."
            )
        _remind(assignment, now=now, actor=actor or actor_current())
    return assignment


def _remind(assignment: SeatAssignment, *, now: dt.datetime, actor: Actor) -> None:
    assignment.reminders += 1
    assignment.reminded_on = now
    assignment.mail = invitation_queue(
        assignment, assignment.contract, link=_link_of(assignment), reminder=True
    )
    assignment.save(update_fields=["reminders", "reminded_on", "mail"])
    audit_record(
        PageRef(ContractPage, assignment.contract_id, assignment.contract.title),
        action="assignment.remind",
        changes={"email": assignment.email, "reminders": assignment.reminders},
        actor=actor,
    )


def assignment_revoke(
    contract_id: int, email: str, *, actor: Actor | None = None
) -> SeatAssignment:
    """Revoke the open assignment: its seat is free again, and the codes it held are deactivated
    (the link mailed stops working); the code adjustment is queued, so fresh codes replace them
    on a capped contract (SPEC §4, §9). Under the contract lock. Raises ``AssignmentNotFound``.
    Recorded (``assignment.revoke``)."""
    with transaction.atomic():
        contract_facts(contract_id, user=NOBODY, for_update=True)
        assignment = _open_assignment(contract_id, email, lock=True)
        assignment.status = SeatAssignment.Status.REVOKED
        assignment.closed_on = timezone.now()
        assignment.save(update_fields=["status", "closed_on"])
        held = assignment.held_codes.values("discount_id")
        deactivated = (
            Discount.objects.filter(pk__in=held).filter(code_usable()).update(is_active=False)
        )
        contract = assignment.contract
        if deactivated:
            codes_adjust_queue(contract)
        audit_record(
            contract,
            action="assignment.revoke",
            changes={"email": assignment.email, "codes deactivated": deactivated},
            actor=actor or actor_current(),
        )
    return assignment


def assignment_reassign(
    contract_id: int,
    email: str,
    new_email: str,
    *,
    name: str = "",
    actor: Actor | None = None,
) -> AssignmentReport:
    """Revoke the seat of ``email`` and assign it to ``new_email`` (a fresh invitation with fresh
    codes). The new address is checked first, and nothing is revoked when it could not take
    the seat: ``InvalidContractInput`` when it is not an email address, already holds a seat
    of the contract, or belongs to a learner attached to it. The codes are adjusted between the
    two steps, so the freed seat has codes to hold. Returns the assignment's report (its one
    row says ``assigned``, or why not)."""
    if email_parse(new_email) is None:
        raise InvalidContractInput(
            f"{new_email!r} is not an email address: give one like name@example.com."
        )
    # Only the seat count can change by revoking: any other refusal stands after it.
    preview = seats_assign(contract_id, [(new_email, name)], apply=False, actor=actor)
    outcome = preview.rows[0].outcome
    if outcome in ("already-assigned", "already-attached"):
        reason = (
            "already holds a seat of this contract"
            if outcome == "already-assigned"
            else "belongs to a learner attached to this contract"
        )
        raise InvalidContractInput(
            f"{new_email} {reason}: nothing was revoked; give another address."
        )
    actor = actor or actor_current()
    assignment_revoke(contract_id, email, actor=actor)
    codes_adjust_and_record(contract_id)
    return seats_assign(contract_id, [(new_email, name)], apply=True, actor=actor)


def assignments_remind_due(
    *, after_days: int, max_reminders: int, now: dt.datetime | None = None
) -> int:
    """Remind every open assignment whose last mail is ``after_days`` days old or more and that
    has had fewer than ``max_reminders`` reminders (Celery beat: ``b2b.tasks.seats_remind``).
    Idempotent: a second run at the same time finds nothing due (each reminder moves
    ``reminded_on``); rows another run holds are skipped. Returns the number reminded."""
    now = now or timezone.now()
    before = now - dt.timedelta(days=max(after_days, 1))
    due = (
        SeatAssignment.objects.filter(
            status=SeatAssignment.Status.OPEN, reminders__lt=max_reminders
        )
        .filter(
            models.Q(reminded_on__isnull=True, created_on__lte=before)
            | models.Q(reminded_on__lte=before)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    actor = Actor(via=Via.TASK, name="seat reminders")
    done = 0
    for pk in list(due):
        with transaction.atomic():
            rows = SeatAssignment.objects.filter(
                pk=pk, status=SeatAssignment.Status.OPEN, reminders__lt=max_reminders
            ).filter(
                models.Q(reminded_on__isnull=True, created_on__lte=before)
                | models.Q(reminded_on__lte=before)
            )
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            assignment = rows.select_related("contract__organization").first()
            if assignment is None:
                continue
            _remind(assignment, now=now, actor=actor)
            done += 1
    return done
