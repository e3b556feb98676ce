"""A seat assigned by email after it is given (SPEC §9): listed, reminded at most once a day,
revoked (its mailed codes stop working, fresh ones replace them), reassigned; reminders sent by
Celery beat exactly once per rule."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from b2b.exceptions import AssignmentNotFound, InvalidContractInput, RemindedRecently
from b2b.models import SeatAssignment
from b2b.services.assignment_actions import (
    assignment_reassign,
    assignment_remind,
    assignment_revoke,
    assignments_remind_due,
)
from b2b.services.assignments import seats_assign
from b2b.services.audit import audit_history
from b2b.services.seats import SeatCount, contract_facts
from b2b.tasks import seats_remind
from ecommerce.models import Discount, DiscountRedemption
from main.models import OutgoingMail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(make_offer, django_capture_on_commit_callbacks):
    """A capped (3) free non-SSO contract with one run (3 codes); a seat assigned to
    ada@example.edu."""
    offer = make_offer("Acme learning", "non-sso", max_learners=3)
    with django_capture_on_commit_callbacks(execute=True):
        seats_assign(offer.contract.pk, [("ada@example.edu", "Ada")], apply=True)
    return offer


def held_code(email="ada@example.edu"):
    return SeatAssignment.objects.get(email=email).held_codes.get().discount


def test_remind_at_most_once_a_day(offer):
    assignment = SeatAssignment.objects.get()
    with pytest.raises(RemindedRecently) as refusal:
        assignment_remind(offer.contract.pk, "ADA@example.edu")
    assert refusal.value.message.startswith(
        "ada@example.edu was mailed about this seat less than a day ago: remind again after "
    )
    later = assignment.created_on + dt.timedelta(days=1, minutes=1)
    assignment_remind(offer.contract.pk, "ada@example.edu", now=later)
    assignment.refresh_from_db()
    assert (assignment.reminders, assignment.reminded_on) == (1, later)
    assert assignment.mail.subject == "Reminder: University X has a seat for you on Learning"
    assert f"/join/{held_code().discount_code}/" in assignment.mail.body_text
    with pytest.raises(RemindedRecently):
        assignment_remind(offer.contract.pk, "ada@example.edu", now=later + dt.timedelta(hours=23))
    assert OutgoingMail.objects.count() == 2
    assert audit_history(offer.contract.pk)[-1].changes == {
        "email": "ada@example.edu",
        "reminders": 1,
    }
    with pytest.raises(AssignmentNotFound):
        assignment_remind(offer.contract.pk, "nobody@example.edu", now=later)


def test_revoke_frees_the_seat_and_the_mailed_code_stops_working(
    offer, client, django_capture_on_commit_callbacks
):
    code = held_code()
    with django_capture_on_commit_callbacks(execute=True):
        assignment_revoke(offer.contract.pk, "ada@example.edu")
    assert SeatAssignment.objects.get().status == "revoked"
    assert Discount.objects.get(pk=code.pk).is_active is False
    facts = contract_facts(offer.contract.pk, user=UserFactory(), for_update=False)
    assert (facts.seats, facts.seats_free) == (SeatCount(members=0, held=0, assigned=0), 3)
    # The adjustment made a fresh code in its place: 3 usable again.
    usable = Discount.objects.filter(product_links__product=offer.product).usable()
    assert usable.count() == 3 and code.pk not in {d.pk for d in usable}
    ada = UserFactory(username="ada", email="ada@example.edu")
    client.force_login(ada)
    refused = client.post("/join/", {"code": code.discount_code})
    assert 'data-code="code-deactivated"' in refused.content.decode()
    assert DiscountRedemption.objects.count() == 0
    entry = audit_history(offer.contract.pk)
    assert ("assignment.revoke", {"email": "ada@example.edu", "codes deactivated": 1}) in [
        (e.action, e.changes) for e in entry
    ]
    with pytest.raises(AssignmentNotFound):
        assignment_revoke(offer.contract.pk, "ada@example.edu")


def test_reassign_gives_the_seat_to_another_address_with_fresh_codes(
    offer, django_capture_on_commit_callbacks
):
    old = held_code()
    with django_capture_on_commit_callbacks(execute=True):
        report = assignment_reassign(offer.contract.pk, "ada@example.edu", "bob@example.edu")
    assert [(r.email, r.outcome) for r in report.rows] == [("bob@example.edu", "assigned")]
    assert dict(SeatAssignment.objects.values_list("email", "status")) == {
        "ada@example.edu": "revoked",
        "bob@example.edu": "open",
    }
    new = held_code("bob@example.edu")
    assert new.pk != old.pk and new.is_active
    assert OutgoingMail.objects.filter(to="bob@example.edu").count() == 1


def test_reassign_to_an_address_that_cannot_take_the_seat_revokes_nothing(offer):
    seats_assign(offer.contract.pk, [("bob@example.edu", "")], apply=True)
    old = held_code()

    with pytest.raises(InvalidContractInput) as refusal:
        assignment_reassign(offer.contract.pk, "ada@example.edu", "Bob@Example.edu")

    assert str(refusal.value) == (
        "Bob@Example.edu already holds a seat of this contract: nothing was revoked; "
        "give another address."
    )
    assert dict(SeatAssignment.objects.values_list("email", "status")) == {
        "ada@example.edu": "open",
        "bob@example.edu": "open",
    }
    old.refresh_from_db()
    assert old.is_active is True


def test_beat_reminds_due_seats_once_per_rule(offer, settings):
    assignment = SeatAssignment.objects.get()
    start = assignment.created_on
    # Not yet due.
    assert assignments_remind_due(after_days=3, max_reminders=2, now=start) == 0
    due = start + dt.timedelta(days=3)
    assert assignments_remind_due(after_days=3, max_reminders=2, now=due) == 1
    assert assignments_remind_due(after_days=3, max_reminders=2, now=due) == 0
    again = due + dt.timedelta(days=3)
    assert assignments_remind_due(after_days=3, max_reminders=2, now=again) == 1
    # The maximum is reached: no third reminder, however late.
    assert (
        assignments_remind_due(after_days=3, max_reminders=2, now=again + dt.timedelta(days=30))
        == 0
    )
    assignment.refresh_from_db()
    assert assignment.reminders == 2
    assert OutgoingMail.objects.filter(subject__startswith="Reminder:").count() == 2
    entry = audit_history(offer.contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor) == ("assignment.remind", "task", "seat reminders")


def test_the_beat_task_reads_its_settings(offer, settings, monkeypatch):
    settings.SEAT_REMINDER_AFTER_DAYS = 1
    settings.SEAT_REMINDER_MAX = 1
    later = timezone.now() + dt.timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert seats_remind() == 1
    assert seats_remind() == 0


def test_the_commands_list_remind_revoke_and_reassign(offer, run_command):
    listed = json.loads(
        run_command("b2b_seats", "list", str(offer.contract.pk), "--format", "json").stdout
    )
    assignment = SeatAssignment.objects.get()
    held = sorted(assignment.held_codes.values_list("discount__discount_code", flat=True))
    assert len(held) == 1  # one per product of the contract
    assert listed == [
        {
            "id": assignment.pk,
            "email": "ada@example.edu",
            "name": "Ada",
            "status": "open",
            "assigned_on": assignment.created_on.isoformat(),
            "reminders": 0,
            "mail_status": "sent",
            "codes": held,
        }
    ]
    table = run_command("b2b_seats", "list", str(offer.contract.pk)).stdout
    assert held[0] in table and "codes" in table
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_seats", "remind", str(offer.contract.pk), "ada@example.edu")
    assert str(refusal.value) == "1 of 1 not reminded: see the messages."
    revoked = run_command(
        "b2b_seats", "revoke", str(offer.contract.pk), "ada@example.edu", "--format", "json"
    )
    assert json.loads(revoked.stdout) == [
        {"email": "ada@example.edu", "outcome": "revoked", "message": ""}
    ]
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_seats", "reassign", str(offer.contract.pk), "ada@example.edu", "x@y.org")
    assert str(refusal.value) == (
        f"Contract {offer.contract.pk} has no open seat assignment for ada@example.edu: "
        f"`manage.py b2b_seats list {offer.contract.pk}` lists them."
    )
    run_command("b2b_seats", "assign", str(offer.contract.pk), "cy@example.edu")
    moved = run_command(
        "b2b_seats",
        "reassign",
        str(offer.contract.pk),
        "cy@example.edu",
        "dee@example.edu",
        "--name",
        "Dee",
        "--format",
        "json",
    )
    assert json.loads(moved.stdout) == [
        {"line": 1, "email": "dee@example.edu", "name": "Dee", "outcome": "assigned"}
    ]


def test_lowering_the_cap_deactivates_codes_no_seat_holds(offer, run_command):
    # The seat holds the newest code, the first the adjustment would otherwise deactivate.
    hold = SeatAssignment.objects.get().held_codes.get()
    code = Discount.objects.filter(product_links__product=offer.product).order_by("-pk").first()
    hold.discount = code
    hold.save()
    run_command("b2b_contract", "modify", str(offer.contract.pk), "--max-learners", "1")
    usable = list(Discount.objects.filter(product_links__product=offer.product).usable())
    assert usable == [code]
