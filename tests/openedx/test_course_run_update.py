"""A contract run's title, pacing or dates changed here after its creation reach Studio with the
same PATCH as the creation (SPEC §8), over real HTTP against the stand-in: a superuser's edit in
the Django Admin, a run not in Studio yet, a failed update and its retry, an edit made while the
PATCH is on its way."""

import pytest

from b2b.services.audit import audit_history
from courses.models import CourseRun
from openedx.client import edx_client
from openedx.services import course_run_update_sync
from tests.b2b.helpers import make_contract
from tests.b2b.staff import PASSWORD, form_fields, staff_member
from tests.openedx.conftest import CLONE, TOKEN, YEAR, studio_run

pytestmark = pytest.mark.django_db

DATA_SOURCE = "course-v1:MITxT+14.310x+SOURCE"
TITLE = "Data Analysis for Social Scientists"


@pytest.fixture
def contract(wagtail_site, catalog, run_command):
    return make_contract(
        run_command,
        "Capped",
        "non-sso",
        "--max-learners",
        "3",
        "--start",
        "2096-02-01",
        "--end",
        "2096-06-30",
    )


@pytest.fixture
def superuser_client(client, admin_user):
    client.force_login(admin_user)
    return client


def key_of(contract) -> str:
    return f"course-v1:UAI_UX+14.310x+{YEAR}_C{contract.pk}"


def edit(client, run, captured, **changes):
    """Post the run's admin form with ``changes``; on-commit tasks run (Celery eager)."""
    url = f"/admin/courses/courserun/{run.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "courserun_form")
    data.update(changes)
    with captured(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302
    run.refresh_from_db()
    return response


def patches(edx, since: int) -> list[dict]:
    return [r["body"] for r in edx.log()[since:] if r["method"] == "PATCH"]


def test_a_superusers_edit_of_a_contract_run_is_recorded_and_patched_to_studio(
    edx, contract, run_command, superuser_client, admin_user, django_capture_on_commit_callbacks
):
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    key = key_of(contract)
    assert run.edx_status == "created"
    before = len(edx.log())

    edit(
        superuser_client,
        run,
        django_capture_on_commit_callbacks,
        title="Data Analysis (UX cohort)",
        end_date_0="2096-07-31",
        end_date_1="23:59:59",
    )

    assert [(r["method"], r["path"], r["status"]) for r in edx.log()[before:]] == [
        ("PATCH", studio_run(key), 200)
    ]
    schedule = {
        "start": "2096-02-01T00:00:00Z",
        "end": "2096-07-31T23:59:59Z",
        "enrollment_start": "2096-02-01T00:00:00Z",
        "enrollment_end": "2096-06-30T23:59:59Z",
    }
    assert patches(edx, before) == [
        {"title": "Data Analysis (UX cohort)", "pacing_type": "self_paced", "schedule": schedule}
    ]
    studio = edx.state()["runs"][key]
    assert (studio["title"], studio["schedule"]) == ("Data Analysis (UX cohort)", schedule)
    assert (run.edx_status, run.edx_error) == ("created", "")
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor, entry.changes) == (
        "courseware.change",
        "admin",
        admin_user.email,
        {
            "run": key,
            "title": {"before": TITLE, "after": "Data Analysis (UX cohort)"},
            "end_date": {
                "before": "2096-06-30T23:59:59+00:00",
                "after": "2096-07-31T23:59:59+00:00",
            },
        },
    )


def test_an_edit_that_studio_does_not_hold_sends_nothing(
    edx, contract, run_command, superuser_client, django_capture_on_commit_callbacks
):
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    before = len(edx.log())

    edit(superuser_client, run, django_capture_on_commit_callbacks, live="")

    assert edx.log()[before:] == []
    assert audit_history(contract.pk)[-1].changes == {
        "run": key_of(contract),
        "live": {"before": True, "after": False},
    }


def test_b2b_staff_cannot_edit_a_contract_run_so_nothing_is_sent(
    edx, contract, run_command, client, django_capture_on_commit_callbacks
):
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    member = staff_member()
    client.login(username=member.username, password=PASSWORD)
    before = len(edx.log())

    edit(client, run, django_capture_on_commit_callbacks, title="Hijacked")

    assert run.title == TITLE
    assert edx.log()[before:] == []


def test_an_edit_before_the_run_is_in_studio_is_sent_by_its_creation(
    edx, contract, run_command, superuser_client, django_capture_on_commit_callbacks
):
    edx.fail("500", 3, path=CLONE)
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    assert run.edx_status == "failed"
    before = len(edx.log())

    edit(superuser_client, run, django_capture_on_commit_callbacks, title="Renamed early")

    assert edx.log()[before:] == []  # the run is not in Studio: nothing to update
    assert course_run_update_sync(run.pk).outcome == "not-created"

    run_command("b2b_courseware", "sync-edx", str(contract.pk))

    run.refresh_from_db()
    assert run.edx_status == "created"
    assert [body["title"] for body in patches(edx, before)] == ["Renamed early"]
    assert edx.state()["runs"][key_of(contract)]["title"] == "Renamed early"


def test_a_failed_update_is_recorded_and_sync_edx_sends_it_again(
    edx, contract, run_command, superuser_client, django_capture_on_commit_callbacks
):
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    key = key_of(contract)
    edx.fail("500", 3, path=studio_run(key), method="PATCH")

    edit(superuser_client, run, django_capture_on_commit_callbacks, title="Renamed")

    assert (run.edx_status, run.edx_error) == (
        "failed",
        "The title, pacing and dates were not sent to Open edX: Studio PATCH course run "
        f"{key}: 500 Internal Server Error (injected by the stand-in).; gave up after 3 attempts",
    )
    assert edx.state()["runs"][key]["title"] == TITLE
    before = len(edx.log())

    run_command("b2b_courseware", "sync-edx", str(contract.pk))

    run.refresh_from_db()
    assert (run.edx_status, run.edx_error) == ("created", "")
    # The retry finds the run in Studio (the clone answers 400) and PATCHes the current values.
    assert [(r["method"], r["path"], r["status"]) for r in edx.log()[before:]] == [
        ("GET", studio_run(DATA_SOURCE), 200),
        ("POST", CLONE, 400),
        ("PATCH", studio_run(key), 200),
    ]
    assert edx.state()["runs"][key]["title"] == "Renamed"


def test_an_edit_committed_while_the_patch_is_on_its_way_is_sent_too(edx, contract, run_command):
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    CourseRun.objects.filter(pk=run.pk).update(title="First edit")
    client = edx_client()
    send = client.course_run_update
    titles = []

    def patch_then_edit(key, **body):
        titles.append(body["title"])
        answer = send(key, **body)
        if len(titles) == 1:  # a second edit commits while the first PATCH is answered
            CourseRun.objects.filter(pk=run.pk).update(title="Second edit")
        return answer

    client.course_run_update = patch_then_edit
    before = len(edx.log())

    result = course_run_update_sync(run.pk, client=client)

    assert (result.outcome, result.status) == ("updated", "created")
    assert titles == ["First edit", "Second edit"]
    assert edx.state()["runs"][key_of(contract)]["title"] == "Second edit"
    assert [r["method"] for r in edx.log()[before:]] == ["PATCH", "PATCH"]
    assert TOKEN not in [(r["method"], r["path"], r["status"]) for r in edx.log()[before:]]
