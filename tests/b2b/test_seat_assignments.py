"""Seats assigned by email (SPEC §9): preview then assign, rows independent and served in order,
idempotent; an assignment reserves a seat in the one count and holds one code per product that
only its assignee can use, on every path (cart, join, API)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from b2b.models import ContractMembership, SeatAssignment, SeatAssignmentCode
from b2b.services.assignments import assignment_rows_read, seats_assign
from b2b.services.audit import audit_history
from b2b.services.seats import SeatCount, contract_facts
from ecommerce.models import Discount, DiscountRedemption
from main.models import OutgoingMail
from tests.factories import ContractRunFactory, UserFactory

pytestmark = pytest.mark.django_db

ROWS = [
    ("new1@example.edu", "New One"),
    ("not an email", ""),
    ("NEW1@example.edu", "again"),
    ("member@example.edu", ""),
    ("new2@example.edu", ""),
    ("new3@example.edu", "Three"),
    ("new4@example.edu", ""),
]


@pytest.fixture
def offer(make_offer, catalog, settings):
    """A capped (5) free non-SSO contract with two runs (5 codes each) and 2 learners attached:
    3 seats free."""
    settings.SITE_BASE_URL = "https://learn.example.edu"
    offer = make_offer("Acme learning", "non-sso", max_learners=5)
    ContractRunFactory(b2b_contract=offer.contract, course=catalog.micro)
    for name in ("member", "other"):
        ContractMembership.objects.create(
            user=UserFactory(username=name, email=f"{name}@example.edu"),
            contract=offer.contract,
            source="manual",
        )
    return offer


def outcomes(report):
    return [(r.line, r.email, r.outcome) for r in report.rows]


EXPECTED = [
    (1, "new1@example.edu", "assigned"),
    (2, "not an email", "invalid-email"),
    (3, "new1@example.edu", "duplicate-row"),
    (4, "member@example.edu", "already-attached"),
    (5, "new2@example.edu", "assigned"),
    (6, "new3@example.edu", "assigned"),
    (7, "new4@example.edu", "no-seat"),
]


def test_preview_then_assign_in_order_while_seats_last(offer, django_capture_on_commit_callbacks):
    preview = seats_assign(offer.contract.pk, ROWS, apply=False)
    assert outcomes(preview) == EXPECTED
    assert (preview.applied, preview.free_before) == (False, 3)
    assert (SeatAssignment.objects.count(), OutgoingMail.objects.count()) == (0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        report = seats_assign(offer.contract.pk, ROWS, apply=True)
    assert outcomes(report) == EXPECTED
    assigned = list(SeatAssignment.objects.order_by("pk").values_list("email", "name", "status"))
    assert assigned == [
        ("new1@example.edu", "New One", "open"),
        ("new2@example.edu", "", "open"),
        ("new3@example.edu", "Three", "open"),
    ]
    facts = contract_facts(offer.contract.pk, user=UserFactory(), for_update=False)
    assert (facts.seats, facts.seats_free) == (SeatCount(members=2, held=0, assigned=3), 0)
    # One code per product for each assignment, all different, all usable.
    held = SeatAssignmentCode.objects.values_list("discount_id", flat=True)
    assert len(set(held)) == 6
    assert Discount.objects.filter(pk__in=held).usable().count() == 6
    for assignment in SeatAssignment.objects.all():
        products = assignment.held_codes.values_list("discount__product_links__product", flat=True)
        assert len(set(products)) == 2
    mails = {m.to: m for m in OutgoingMail.objects.all()}
    assert sorted(mails) == ["new1@example.edu", "new2@example.edu", "new3@example.edu"]
    first = SeatAssignment.objects.get(email="new1@example.edu")
    code = first.held_codes.order_by("discount__product_links__product").first().discount
    assert mails["new1@example.edu"].subject == "University X has a seat for you on Learning"
    assert f"https://learn.example.edu/join/{code.discount_code}/" in (
        mails["new1@example.edu"].body_text
    )
    assert "Hello New One," in mails["new1@example.edu"].body_text
    assert first.mail == mails["new1@example.edu"]
    entry = audit_history(offer.contract.pk)[-1]
    assert (entry.action, entry.changes) == (
        "assignment.add",
        {"assigned": 3, "emails": ["new1@example.edu", "new2@example.edu", "new3@example.edu"]},
    )


def test_applying_the_same_list_again_assigns_nothing_new(offer):
    seats_assign(offer.contract.pk, ROWS, apply=True)
    again = seats_assign(offer.contract.pk, ROWS, apply=True)
    assert [r.outcome for r in again.rows] == [
        "already-assigned",
        "invalid-email",
        "duplicate-row",
        "already-attached",
        "already-assigned",
        "already-assigned",
        "no-seat",
    ]
    assert SeatAssignment.objects.count() == 3


def test_an_assigned_code_is_refused_to_anyone_else_on_every_path(offer, client):
    seats_assign(offer.contract.pk, [("ada@example.edu", "")], apply=True)
    code = (
        SeatAssignmentCode.objects.filter(discount__product_links__product=offer.product)
        .get()
        .discount.discount_code
    )
    eve = UserFactory(username="eve", email="eve@example.edu")
    # The address typed at sign-up but never confirmed is not enough either.
    UserFactory(username="ada-unverified", email="ada@example.edu", email_verified=False)
    client.force_login(eve)
    # The cart.
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    cart = client.post("/cart/code/", {"code": code})
    assert cart.status_code == 409
    assert 'data-code="code-assigned-elsewhere"' in cart.content.decode()
    # Joining.
    joined = client.post("/join/", {"code": code})
    assert joined.status_code == 409
    assert 'data-code="code-assigned-elsewhere"' in joined.content.decode()
    # The API.
    client.get("/api/v0/me/")
    api = client.post(
        "/api/v0/contracts/join/",
        json.dumps({"code": code}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert (api.status_code, api.json()) == (
        409,
        {
            "code": "code-assigned-elsewhere",
            "message": "This enrollment code was given to someone else by their organization, "
            "and only they can use it. Ask your organization for a seat of your own.",
        },
    )
    assert DiscountRedemption.objects.count() == 0
    assert not ContractMembership.objects.filter(user=eve).exists()


def test_the_assignee_joins_with_the_last_seat_and_the_assignment_closes(offer, client):
    seats_assign(offer.contract.pk, [("ada@example.edu", "")], apply=True)
    seats_assign(offer.contract.pk, [("bob@example.edu", ""), ("cy@example.edu", "")], apply=True)
    code = (
        SeatAssignmentCode.objects.filter(
            assignment__email="ada@example.edu", discount__product_links__product=offer.product
        )
        .get()
        .discount.discount_code
    )
    # The contract is full: 2 attached + 3 assigned. A stranger with a free code is refused.
    stranger = UserFactory(username="stranger", email="stranger@example.edu")
    free_code = (
        Discount.objects.filter(product_links__product=offer.product)
        .exclude(assignment_holds__isnull=False)
        .usable()
        .first()
    )
    client.force_login(stranger)
    full = client.post("/join/", {"code": free_code.discount_code})
    assert 'data-code="contract-full"' in full.content.decode()
    # The assignee, her address confirmed, takes her seat.
    ada = UserFactory(username="ada", email="Ada@Example.edu")
    client.force_login(ada)
    response = client.post("/join/", {"code": code})
    assert response.status_code == 302
    assert ContractMembership.objects.get(user=ada).source == "code"
    assert SeatAssignment.objects.get(email="ada@example.edu").status == "joined"
    facts = contract_facts(offer.contract.pk, user=stranger, for_update=False)
    assert facts.seats == SeatCount(members=3, held=0, assigned=2)
    # Her other code (the second product's) is released: no longer held by an open assignment.
    assert (
        SeatAssignmentCode.objects.filter(
            assignment__status="open", assignment__email="ada@example.edu"
        ).count()
        == 0
    )


def test_an_uncapped_contract_assigns_without_holding_codes(make_offer, catalog):
    offer = make_offer("Open door", "non-sso")
    report = seats_assign(offer.contract.pk, [("a@x.org", ""), ("b@x.org", "")], apply=True)
    assert [r.outcome for r in report.rows] == ["assigned", "assigned"]
    assert report.free_before is None
    assert SeatAssignmentCode.objects.count() == 0
    mail = OutgoingMail.objects.get(to="a@x.org")
    assert f"/join/{offer.codes[0]}/" in mail.body_text


def test_rows_read_from_csv():
    text = "\ufeffEmail,Name\r\nada@example.edu,Ada Lovelace\r\n\r\n  bob@example.edu \nbad\n"
    assert assignment_rows_read(text) == [
        ("ada@example.edu", "Ada Lovelace"),
        ("bob@example.edu", ""),
        ("bad", ""),
    ]


def test_the_command_previews_and_assigns(offer, run_command, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("email,name\n" + "\n".join(f"{e},{n}" for e, n in ROWS) + "\n")
    dry = run_command(
        "b2b_seats",
        "assign",
        str(offer.contract.pk),
        "--file",
        str(path),
        "--dry-run",
        "--format",
        "json",
    )
    assert json.loads(dry.stdout) == [
        {"line": line, "email": email, "name": name, "outcome": outcome}
        for (line, email, outcome), (_, name) in zip(
            EXPECTED,
            [("", "New One"), ("", ""), ("", "again"), ("", ""), ("", ""), ("", "Three"), ("", "")],
            strict=True,
        )
    ]
    assert dry.stderr.strip() == (
        f"Would assign 3 of 7 rows to contract {offer.contract.pk} (3 seats free before): "
        "3 assigned, 1 already-attached, 1 no-seat, 1 invalid-email, 1 duplicate-row. "
        "Nothing was changed (--dry-run)."
    )
    assert SeatAssignment.objects.count() == 0
    real = run_command("b2b_seats", "assign", str(offer.contract.pk), "x@y.org", "--format", "json")
    assert json.loads(real.stdout) == [
        {"line": 1, "email": "x@y.org", "name": "", "outcome": "assigned"}
    ]
    assert audit_history(offer.contract.pk)[-1].via == "command"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{c}"], "Give at least one EMAIL, or --file with a CSV of them."),
        (["{c}", "a@b.org", "--file", "x.csv"], "Give email addresses or --file, not both."),
        (
            ["{c}", "--file", "/nonexistent/people.csv"],
            "No file /nonexistent/people.csv: give the path of a CSV file.",
        ),
        (
            ["4242", "a@b.org"],
            "No contract with ID 4242: `manage.py b2b_list contracts` lists them.",
        ),
    ],
)
def test_the_command_refuses_bad_input(offer, argv, message):
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_seats", "assign", *[a.format(c=offer.contract.pk) for a in argv])
    assert (str(refusal.value), refusal.value.returncode) == (message, 1)
    assert SeatAssignment.objects.count() == 0


def test_a_real_smtp_server_receives_the_invitations(
    offer, settings, django_capture_on_commit_callbacks
):
    from tests.main.smtp import SMTPServer

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "Learning <no-reply@learn.example.edu>"
    with SMTPServer() as server:
        settings.EMAIL_PORT = server.port
        with django_capture_on_commit_callbacks(execute=True):
            seats_assign(
                offer.contract.pk,
                [("new1@example.edu", "New One"), ("new2@example.edu", "")],
                apply=True,
            )
        received = server.recorder.received
    assert sorted(r.rcpt_tos[0] for r in received) == ["new1@example.edu", "new2@example.edu"]
    first = next(r for r in received if r.rcpt_tos == ["new1@example.edu"])
    code = held_code_of("new1@example.edu", offer.product)
    assert first.message["Subject"] == "University X has a seat for you on Learning"
    assert f"https://learn.example.edu/join/{code}/" in first.part("text/plain")
    assert f"https://learn.example.edu/join/{code}/" in first.part("text/html")
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}


def held_code_of(email, product):
    return (
        SeatAssignmentCode.objects.filter(
            assignment__email=email, discount__product_links__product=product
        )
        .get()
        .discount.discount_code
    )


def test_an_address_longer_than_any_column_is_an_invalid_row_not_a_failed_list(offer):
    too_long = "a" * 250 + "@x.com"  # 256 characters: Django's validator accepts it

    report = seats_assign(offer.contract.pk, [("good@example.edu", ""), (too_long, "")], apply=True)

    assert [(r.email, r.outcome) for r in report.rows] == [
        ("good@example.edu", "assigned"),
        (too_long, "invalid-email"),
    ]
    assert list(SeatAssignment.objects.values_list("email", flat=True)) == ["good@example.edu"]
