"""The contract's pages in the Wagtail admin (``b2b.staff_views``): what staff do there goes
through the commands' services, is recorded with the person as actor, and refuses bad input
with a message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from b2b.models import ContractCourseware, ContractMembership
from b2b.services.audit import audit_history
from ecommerce.models import Discount
from tests.b2b.helpers import new_contract
from tests.b2b.staff import staff_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, wagtail_site):
    member = staff_member()
    member.name = "Sam Staff"
    member.save()
    client.force_login(member)
    return client


def url(name: str, contract, **query) -> str:
    base = reverse(f"b2b_contract:{name}", args=[contract.pk])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_others_are_refused(client, wagtail_site):
    contract = new_contract("Acme 2026", max_learners=3)
    outsider = staff_member("outsider", in_group=False)
    outsider.user_permissions.add(Permission.objects.get(codename="access_admin"))
    UserFactory(email="x@example.com")
    client.force_login(outsider)
    # Wagtail turns the refusal (PermissionDenied) into a redirect to its dashboard.
    for name in ("overview", "courseware", "codes", "codes_csv", "learners", "history"):
        response = client.get(url(name, contract))
        assert (response.status_code, response["Location"]) == (302, "/cms/")
    response = client.post(url("learners", contract), {"email": "x@example.com"})
    assert (response.status_code, response["Location"]) == (302, "/cms/")
    assert ContractMembership.objects.count() == 0
    client.logout()
    response = client.get(url("overview", contract))
    assert response.status_code == 302 and response["Location"].startswith("/cms/login/")


def test_add_a_course_after_its_plan(staff_client, catalog, django_capture_on_commit_callbacks):
    contract = new_contract("Acme 2026", max_learners=3)
    found = staff_client.get(url("courseware", contract, q="Microecon"))
    assert "course-v1:MITxT+14.100x" in found.content.decode()
    plan = staff_client.get(
        url("courseware_plan", contract, action="add", readable_id="course-v1:MITxT%2B14.100x")
    )
    text = plan.content.decode()
    assert "Nothing has changed yet" in text
    assert "3 one-time" in text
    assert ContractCourseware.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(
            url("courseware_plan", contract),
            {"action": "add", "readable_id": "course-v1:MITxT+14.100x", "confirm": "1"},
        )
    assert done.status_code == 302
    assert ContractCourseware.objects.filter(contract=contract).count() == 1
    entry = [e for e in audit_history(contract.pk) if e.action == "courseware.add"][0]
    assert (entry.who, entry.via) == ("Sam Staff <staffer@example.com>", "wagtail")


def test_bad_courseware_id_is_a_message(staff_client):
    contract = new_contract("Acme 2026", max_learners=3)
    response = staff_client.get(
        url("courseware_plan", contract, action="add", readable_id="nonsense"), follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and "readable ID" in messages[0]


def test_codes_csv_is_the_commands_bytes(
    staff_client, catalog, add_courseware, run_command, tmp_path, monkeypatch
):
    contract = new_contract("Acme 2026", max_learners=3)
    add_courseware(contract, "course-v1:MITxT+14.100x")
    monkeypatch.chdir(tmp_path)
    run_command("b2b_list", "contracts", "--codes", str(contract.pk))
    written = Path(tmp_path / f"codes-{contract.pk}.csv").read_bytes()
    response = staff_client.get(url("codes_csv", contract))
    assert response["Content-Disposition"] == f'attachment; filename="codes-{contract.pk}.csv"'
    assert b"".join(response.streaming_content) == written
    assert len(written.decode().splitlines()) == 4


def test_codes_listing_filter_and_deactivate(
    staff_client, catalog, add_courseware, django_capture_on_commit_callbacks
):
    contract = new_contract("Acme 2026", max_learners=3)
    add_courseware(contract, "course-v1:MITxT+14.100x")
    codes = list(Discount.objects.order_by("pk").values_list("discount_code", flat=True))
    page = staff_client.get(url("codes", contract, status="usable"))
    assert page.context["total"] == 3
    assert staff_client.get(url("codes", contract, q=codes[0][2:8])).context["total"] == 1
    confirm = staff_client.post(url("codes_deactivate", contract), {"code": [codes[0]]})
    assert "Deactivate 1 code?" in confirm.content.decode()
    assert Discount.objects.get(discount_code=codes[0]).is_active
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url("codes_deactivate", contract), {"code": [codes[0]], "confirm": "1"})
    assert not Discount.objects.get(discount_code=codes[0]).is_active
    assert (
        Discount.objects.usable()
        .filter(product_links__product__course_run__b2b_contract=contract)
        .count()
        == 3
    )
    button = 'data-b2b="codes-deactivate"'
    assert button in staff_client.get(url("codes", contract)).content.decode()
    # Only deactivated codes listed: nothing to tick, so no button to deactivate them.
    deactivated = staff_client.get(url("codes", contract, status="deactivated"))
    assert (deactivated.context["total"], button in deactivated.content.decode()) == (1, False)
    foreign = staff_client.post(url("codes_deactivate", contract), {"code": ["NOPE"]}, follow=True)
    assert "Not codes of this contract: NOPE" in foreign.content.decode()


def test_attach_and_detach(staff_client):
    contract = new_contract("Acme 2026", max_learners=1)
    UserFactory(email="ada@example.com")
    bob = UserFactory(email="bob@example.com")
    staff_client.post(url("learners", contract), {"email": "ADA@example.com"})
    assert list(ContractMembership.objects.values_list("user__email", "source")) == [
        ("ada@example.com", "manual")
    ]
    full = staff_client.post(url("learners", contract), {"email": "bob@example.com"})
    assert full.status_code == 200
    assert full.context["form"].errors["email"][0].startswith("Contract")
    unknown = staff_client.post(url("learners", contract), {"email": "nobody@example.com"})
    assert "No account with the email nobody@example.com" in unknown.content.decode()
    csv = b"".join(staff_client.get(url("learners_csv", contract)).streaming_content).decode()
    assert csv.splitlines()[0] == "Email,Name,Source,Since,Enrolled runs"
    assert csv.splitlines()[1].startswith("ada@example.com,")
    staff_client.post(url("learner_detach", contract), {"email": "ada@example.com", "confirm": "1"})
    assert ContractMembership.objects.count() == 0
    history = staff_client.get(url("history", contract)).content.decode()
    assert "Learner detached from the contract" in history
    assert "Sam Staff &lt;staffer@example.com&gt;" in history
    assert re.search(r"<td>Wagtail</td>", history)
    assert bob.pk


def test_overview_chart(staff_client):
    contract = new_contract("Acme 2026", max_learners=5)
    ada = UserFactory(email="ada@example.com")
    staff_client.post(url("learners", contract), {"email": ada.email})
    page = staff_client.get(url("overview", contract)).content.decode()
    assert "1 of 5 learners" in page
    assert 'data-b2b="chart-attachments"' in page
    assert "Learners attached: 1" in page


def test_retry_sync_of_a_failed_run_says_why_it_cannot(staff_client, catalog, add_courseware):
    contract = new_contract("Acme 2026", max_learners=3)
    add_courseware(contract, "course-v1:MITxT+14.100x")
    contract.course_runs.update(edx_status="failed", edx_error="Studio said 500")
    page = staff_client.get(url("courseware", contract)).content.decode()
    assert "1 run failed to sync with Open edX." in page and "Retry sync" in page
    response = staff_client.post(url("edx_retry", contract), follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1
    assert messages[0].startswith("Open edX is not configured (unset: ")


def test_remove_shows_its_plan_first(staff_client, catalog, add_courseware):
    contract = new_contract("Acme 2026", max_learners=3)
    add_courseware(contract, "course-v1:MITxT+14.100x")
    run = contract.course_runs.get()
    plan = staff_client.get(
        url("courseware_plan", contract, action="remove", readable_id="course-v1:MITxT%2B14.100x")
    )
    text = plan.content.decode()
    assert "Remove course-v1:MITxT+14.100x: the plan" in text
    assert "(product taken off sale)" in text
    assert ContractCourseware.objects.filter(contract=contract).count() == 1
    staff_client.post(
        url("courseware_plan", contract),
        {"action": "remove", "readable_id": "course-v1:MITxT+14.100x", "confirm": "1"},
    )
    assert ContractCourseware.objects.filter(contract=contract).count() == 0
    run.refresh_from_db()
    assert (contract.course_runs.count(), run.b2b_contract_id) == (0, None)  # the run stays


def test_changes_need_the_csrf_token(wagtail_site):
    from django.test import Client

    contract = new_contract("Acme 2026", max_learners=3)
    UserFactory(email="ada@example.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_member())
    response = client.post(url("learners", contract), {"email": "ada@example.com"})
    assert response.status_code == 403
    assert ContractMembership.objects.count() == 0
