"""The managers' portal (SPEC §9): ``/manage/`` and ``/api/v0/manage/`` show a manager their
organizations' contracts (seats, codes, learners), filtered, paginated, as CSV, and nothing of
any other organization (404 for its IDs, the same as for IDs that do not exist)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from b2b.models import OrganizationManager, SeatAssignment
from b2b.services.assignments import seats_assign
from b2b.services.audit import audit_history
from courses.models import CourseRunEnrollment
from tests.b2b.helpers import new_contract
from tests.factories import (
    MembershipFactory,
    RedemptionFactory,
    UserFactory,
    contract_runs,
    course_with_source,
    enrollment_codes,
    memberships_bulk,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(wagtail_site):
    """University X's capped contract (cap 10) with one run and 4 codes, 1 redeemed; three
    learners (code, code, sso), one enrolled; and Other Org's contract with one learner."""
    contract = new_contract("UX 2026", max_learners=10)
    course = course_with_source("course-v1:UX+Econ101", "Microeconomics")
    (run,) = contract_runs(contract, course)
    product = run.products.get()
    product.discount_links.all().delete()
    codes = enrollment_codes(product, 4)
    ada = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    alan = UserFactory(username="alan", email="alan@example.edu", name="Alan Turing")
    grace = UserFactory(username="grace", email="grace@corp.org", name="Grace Hopper")
    for user, source in ((ada, "code"), (alan, "code"), (grace, "sso")):
        MembershipFactory(user=user, contract=contract, source=source)
    RedemptionFactory(redeemed_discount=codes[0], redeemed_by=ada)
    CourseRunEnrollment.objects.create(user=ada, run=run, active=True)
    other = new_contract("Other 2026", org="Other Org", key="OO", max_learners=5)
    MembershipFactory(user=UserFactory(username="eve", email="eve@other.org"), contract=other)
    manager = UserFactory(username="boss", email="boss@example.edu", name="Boss")
    OrganizationManager.objects.create(
        organization=contract.organization, email=manager.email, user=manager
    )
    return {"contract": contract, "other": other, "run": run, "codes": codes, "manager": manager}


def test_the_portal_lists_the_managers_contracts_with_their_seats(world, client):
    client.force_login(world["manager"])
    page = client.get(reverse("manage"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "University X" in text and "UX 2026" in text
    assert "Other Org" not in text and "Other 2026" not in text

    api = client.get(reverse("api-manage-organizations")).json()
    contract = world["contract"]
    assert api == [
        {
            "id": contract.organization_id,
            "name": "University X",
            "contracts": [
                {
                    "id": contract.pk,
                    "name": "UX 2026",
                    "organization_id": contract.organization_id,
                    "organization": "University X",
                    "integration_type": "non-sso",
                    "in_force": True,
                    "active": True,
                    "start": None,
                    "end": None,
                    "cap": 10,
                    "attached": 3,
                    "held": 0,
                    "assigned": 0,
                    "free": 7,
                    "codes_usable": 3,
                    "codes_assigned": 0,
                    "codes_redeemed": 1,
                }
            ],
        }
    ]


def test_learners_filtered_paginated_and_as_csv(world, client):
    client.force_login(world["manager"])
    contract = world["contract"]
    url = reverse("api-manage-learners", args=[contract.pk])
    everyone = client.get(url).json()
    assert (everyone["count"], everyone["page"], everyone["pages"]) == (3, 1, 1)
    assert [r["email"] for r in everyone["results"]] == [
        "ada@example.edu",
        "alan@example.edu",
        "grace@corp.org",
    ]
    assert everyone["results"][0]["enrollments"] == [
        {"run": world["run"].courseware_id, "title": "Microeconomics", "active": True}
    ]
    assert [r["email"] for r in client.get(url, {"source": "sso"}).json()["results"]] == [
        "grace@corp.org"
    ]
    assert [r["email"] for r in client.get(url, {"q": "TURING"}).json()["results"]] == [
        "alan@example.edu"
    ]
    bad = client.get(url, {"source": "wizard"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid-input")

    page = client.get(reverse("manage-contract", args=[contract.pk]), {"source": "code"})
    text = page.content.decode()
    assert "Ada Lovelace" in text and "Alan Turing" in text and "Grace Hopper" not in text

    exported = client.get(
        reverse("manage-contract", args=[contract.pk]), {"source": "code", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0] == ["Email", "Name", "Source", "Since", "Enrolled runs"]
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [
        ("ada@example.edu", "code", world["run"].courseware_id),
        ("alan@example.edu", "code", ""),
    ]


def test_pages_of_fifty(world, client):
    client.force_login(world["manager"])
    contract = world["contract"]
    contract.max_learners = None
    contract.save()
    memberships_bulk(contract, 60)
    url = reverse("api-manage-learners", args=[contract.pk])
    second = client.get(url, {"page": "2"}).json()
    assert (second["count"], second["pages"], len(second["results"])) == (63, 2, 13)
    past = client.get(url, {"page": "3"})
    assert past.status_code == 400
    html = client.get(reverse("manage-contract", args=[contract.pk]), {"page": "2"})
    assert "Page 2 of 2 (63)" in html.content.decode()


def test_codes_filtered_and_as_csv(world, client):
    client.force_login(world["manager"])
    contract, codes = world["contract"], world["codes"]
    url = reverse("api-manage-codes", args=[contract.pk])
    redeemed = client.get(url, {"status": "redeemed"}).json()
    assert redeemed["results"] == [
        {
            "code": codes[0].discount_code,
            "run": world["run"].courseware_id,
            "title": "Microeconomics",
            "status": "redeemed",
            "assigned_to": "",
        }
    ]
    assert client.get(url, {"status": "usable"}).json()["count"] == 3
    exported = client.get(
        reverse("manage-contract", args=[contract.pk]), {"tab": "codes", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0] == ["Code", "Run", "Title", "Status", "Assigned to"]
    assert sorted(r[3] for r in rows[1:]) == ["redeemed", "usable", "usable", "usable"]


def test_another_organizations_ids_are_404_everywhere(world, client):
    client.force_login(world["manager"])
    for contract_id in (world["other"].pk, 987654):
        for name in (
            "api-manage-assignments",
            "api-manage-contract",
            "api-manage-learners",
            "api-manage-codes",
        ):
            response = client.get(reverse(name, args=[contract_id]))
            assert response.status_code == 404
            assert response.json() == {
                "code": "contract-not-found",
                "message": f"No contract of yours has the ID {contract_id}.",
            }
        for query in ({}, {"tab": "codes"}, {"format": "csv"}, {"tab": "codes", "format": "csv"}):
            page = client.get(reverse("manage-contract", args=[contract_id]), query)
            assert page.status_code == 404
            assert b"eve@other.org" not in page.content


def test_a_person_who_manages_nothing_sees_nothing(world, client):
    client.force_login(UserFactory(username="nobody", email="nobody@example.edu"))
    page = client.get(reverse("manage"))
    assert "You do not manage an organization." in page.content.decode()
    assert client.get(reverse("api-manage-organizations")).json() == []
    assert client.get(reverse("manage-contract", args=[world["contract"].pk])).status_code == 404


def test_signed_out_visitors_are_sent_to_log_in(world, client):
    page = client.get(reverse("manage"))
    assert (page.status_code, page["Location"]) == (302, "/login/?next=/manage/")
    assert client.get(reverse("api-manage-organizations")).status_code == 403


def test_the_api_is_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/v0/manage/organizations/",
        "/api/v0/manage/contracts/{contract_id}/",
        "/api/v0/manage/contracts/{contract_id}/learners/",
        "/api/v0/manage/contracts/{contract_id}/codes/",
    ):
        assert path in schema


def test_assign_seats_in_the_portal_preview_then_apply(world, client):
    client.force_login(world["manager"])
    contract = world["contract"]
    url = reverse("manage-assign", args=[contract.pk])
    assert client.get(url).status_code == 200
    upload = io.BytesIO(b"email,name\nnew@example.edu,New Person\nada@example.edu,\nbad,\n")
    upload.name = "people.csv"
    preview = client.post(url, {"file": upload})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "Preview: nothing is assigned yet." in text
    assert '<tr data-outcome="assigned"><td class="num" data-label="Row">1</td>' in text
    assert '<tr data-outcome="already-attached"><td class="num" data-label="Row">2</td>' in text
    assert '<tr data-outcome="invalid-email"><td class="num" data-label="Row">3</td>' in text
    assert SeatAssignment.objects.count() == 0
    applied = client.post(url, {"apply": "1", "rows": "new@example.edu,New Person\n"})
    assert "1 seat assigned; invitations are on their way." in applied.content.decode()
    assignment = SeatAssignment.objects.get()
    assert (assignment.email, assignment.name, assignment.assigned_by) == (
        "new@example.edu",
        "New Person",
        world["manager"],
    )
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor) == (
        "assignment.add",
        "portal",
        "boss@example.edu",
    )
    listed = client.get(reverse("manage-contract", args=[contract.pk]), {"tab": "assignments"})
    assert "new@example.edu" in listed.content.decode()
    seats = client.get(reverse("api-manage-contract", args=[contract.pk])).json()
    assert (seats["attached"], seats["assigned"], seats["free"], seats["codes_assigned"]) == (
        3,
        1,
        6,
        1,
    )


def test_assigning_another_organizations_contract_is_404(world, client):
    client.force_login(world["manager"])
    url = reverse("manage-assign", args=[world["other"].pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"apply": "1", "rows": "x@y.org\n"}).status_code == 404
    assert SeatAssignment.objects.count() == 0


def test_assign_seats_through_the_api(world, client, django_capture_on_commit_callbacks):
    client.force_login(world["manager"])
    client.get("/api/v0/me/")
    url = reverse("api-manage-assignments", args=[world["contract"].pk])

    def post(body):
        return client.post(
            url,
            json.dumps(body),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        )

    rows = [{"email": "x@y.org", "name": "X"}, {"email": "x@y.org"}, {"email": "nope"}]
    dry = post({"rows": rows, "dry_run": True})
    assert (dry.status_code, dry.json()["counts"]["assigned"]) == (200, 1)
    assert SeatAssignment.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        real = post({"rows": rows})
    assert real.status_code == 201
    assert real.json() == {
        "applied": True,
        "free_before": 7,
        "counts": {
            "assigned": 1,
            "already-assigned": 0,
            "already-attached": 0,
            "no-seat": 0,
            "invalid-email": 1,
            "duplicate-row": 1,
        },
        "rows": [
            {"line": 1, "email": "x@y.org", "name": "X", "outcome": "assigned"},
            {"line": 2, "email": "x@y.org", "name": "", "outcome": "duplicate-row"},
            {"line": 3, "email": "nope", "name": "", "outcome": "invalid-email"},
        ],
    }
    listed = client.get(url).json()
    assert [(r["email"], r["status"], r["mail_status"]) for r in listed["results"]] == [
        ("x@y.org", "open", "sent")
    ]
    assert post({"rows": []}).json()["code"] == "invalid-input"
    other = reverse("api-manage-assignments", args=[world["other"].pk])
    response = client.post(
        other,
        json.dumps({"rows": rows}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 404


def test_remind_revoke_and_reassign_in_the_portal(
    world, client, django_capture_on_commit_callbacks
):
    client.force_login(world["manager"])
    contract = world["contract"]
    with django_capture_on_commit_callbacks(execute=True):
        seats_assign(contract.pk, [("x@y.org", ""), ("z@y.org", "")], apply=True)
    x, z = SeatAssignment.objects.order_by("email")

    def act(assignment, action, **data):
        url = reverse("manage-assignment-action", args=[contract.pk, assignment.pk, action])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data, follow=True)
        return response.content.decode()

    assert "less than a day ago" in act(x, "remind")
    assert "The seat of x@y.org is free again; its link no longer works." in act(x, "revoke")
    text = act(z, "reassign", new_email="w@y.org", name="W")
    assert "The seat of z@y.org now goes to w@y.org: invitation sent." in text
    assert dict(SeatAssignment.objects.values_list("email", "status")) == {
        "x@y.org": "revoked",
        "z@y.org": "revoked",
        "w@y.org": "open",
    }
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via) == ("assignment.add", "portal")
    # Another organization's seat: 404, nothing done.
    other = SeatAssignment.objects.create(contract=world["other"], email="o@other.org")
    for action in ("remind", "revoke", "reassign"):
        for contract_id in (contract.pk, world["other"].pk):
            url = reverse("manage-assignment-action", args=[contract_id, other.pk, action])
            assert client.post(url, {"new_email": "a@b.org"}).status_code == 404
    other.refresh_from_db()
    assert other.status == "open"
