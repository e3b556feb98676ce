"""``b2b_courseware sync-edx <contract id>``: what it retries, what it reports, how it exits."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from courses.models import CourseRun, CourseRunEnrollment
from tests.b2b.helpers import new_contract
from tests.factories import UserFactory, contract_runs
from tests.openedx.conftest import CLONE, YEAR, point_settings_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def offline_contract(wagtail_site, catalog):
    """A contract with two runs and an enrollment, all made while edX was off."""
    contract = new_contract("Typical", max_learners=5)
    contract_runs(contract, catalog.data, catalog.micro)
    run = CourseRun.objects.get(courseware_id=key(contract, "14.310x"))
    CourseRunEnrollment.objects.create(user=UserFactory(username="ada"), run=run)
    return contract


def turn_on(settings, server, control):
    """Open edX configured now, after the contract's runs were made."""
    point_settings_at(settings, server)
    return control


def key(contract, number: str) -> str:
    return f"course-v1:UAI_UX+{number}+{YEAR}_C{contract.pk}"


def test_dry_run_lists_what_is_not_in_edx_and_sends_nothing(offline_contract, run_command):
    out = run_command(
        "b2b_courseware", "sync-edx", str(offline_contract.pk), "--dry-run", "--format", "json"
    )

    micro, data = key(offline_contract, "14.100x"), key(offline_contract, "14.310x")
    assert json.loads(out.stdout) == {
        "contract_id": offline_contract.pk,
        "dry_run": True,
        "items": [
            {
                "kind": "run",
                "run": micro,
                "learner": None,
                "before": "not-configured",
                "after": None,
                "outcome": "to-sync",
                "detail": "",
            },
            {
                "kind": "run",
                "run": data,
                "learner": None,
                "before": "not-configured",
                "after": None,
                "outcome": "to-sync",
                "detail": "",
            },
            {
                "kind": "enrollment",
                "run": data,
                "learner": "ada",
                "before": "not-configured",
                "after": None,
                "outcome": "to-sync",
                "detail": "",
            },
        ],
        "message": f"Contract {offline_contract.pk}: 2 runs and 1 enrollment not in Open edX "
        "yet (dry run: nothing sent).",
    }
    assert out.stderr.endswith(
        "Open edX is not configured (OPENEDX_* settings): set them before syncing.\n"
    )


def test_sync_creates_everything_and_reports_each_in_a_table(
    offline_contract, standin_server, standin, settings, run_command
):
    edx = turn_on(settings, standin_server, standin)
    out = run_command("b2b_courseware", "sync-edx", str(offline_contract.pk))

    lines = out.stdout.splitlines()
    micro, data = key(offline_contract, "14.100x"), key(offline_contract, "14.310x")
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in lines
        if line.startswith("│")
    ]
    assert rows == [
        [
            "run",
            micro,
            "",
            "not-configured",
            "created",
            "created",
            "cloned from course-v1:MITxT+14.100x+SOURCE; title, pacing and schedule set",
        ],
        [
            "run",
            data,
            "",
            "not-configured",
            "created",
            "created",
            "cloned from course-v1:MITxT+14.310x+SOURCE; title, pacing and schedule set",
        ],
        [
            "enrollment",
            data,
            "ada",
            "not-configured",
            "created",
            "created",
            "enrolled in the LMS (audit)",
        ],
    ]
    assert lines[-1] == (
        f"Contract {offline_contract.pk}: synced 2 runs and 1 enrollment with Open edX: "
        "3 created, 0 failed."
    )
    assert sorted(edx.state()["runs"])[-2:] == sorted([micro, data])
    assert [(e["user"], e["course_details"]["course_id"]) for e in edx.state()["enrollments"]] == [
        ("ada", data)
    ]

    again = run_command("b2b_courseware", "sync-edx", str(offline_contract.pk))

    assert again.stdout == (
        f"Contract {offline_contract.pk}: nothing to sync; its 2 runs created here and "
        "1 enrollment are all in Open edX.\n"
    )


def test_failures_are_reported_and_exit_1(offline_contract, standin_server, standin, settings):
    edx = turn_on(settings, standin_server, standin)
    edx.fail("500", 3, path=CLONE)  # the first run's clone fails every attempt
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as refusal:
        call_command(
            "b2b_courseware",
            "sync-edx",
            str(offline_contract.pk),
            "--format",
            "json",
            stdout=out,
            stderr=err,
        )

    micro, data = key(offline_contract, "14.100x"), key(offline_contract, "14.310x")
    document = json.loads(out.getvalue())
    assert [(i["run"], i["learner"], i["after"], i["outcome"]) for i in document["items"]] == [
        (micro, None, "failed", "failed"),
        (data, None, "created", "created"),
        (data, "ada", "created", "created"),
    ]
    assert document["items"][0]["detail"] == (
        f"Studio clone of course-v1:MITxT+14.100x+SOURCE into {micro}: 500 Internal Server "
        "Error (injected by the stand-in).; gave up after 3 attempts"
    )
    assert refusal.value.returncode == 1
    assert str(refusal.value) == (
        f"1 of 3 failed (see the detail column): fix what it says, or wait for Open edX to "
        f"answer again, then run `b2b_courseware sync-edx {offline_contract.pk}` again."
    )


def test_an_unknown_contract_is_refused(edx, wagtail_site, run_command):
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "sync-edx", "999999")
    assert refusal.value.returncode == 1
    assert "999999" in str(refusal.value)
    assert edx.requests() == []


def test_a_bad_base_url_is_refused_as_not_configured(settings, offline_contract, run_command):
    settings.OPENEDX_API_BASE_URL = "lms.example.edu"
    settings.OPENEDX_STUDIO_API_BASE_URL = "https://studio.example.edu"
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID = "id"
    settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET = "secret"

    with pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "sync-edx", str(offline_contract.pk))

    assert refusal.value.returncode == 1
    assert str(refusal.value) == (
        "OPENEDX_API_BASE_URL must be an http:// or https:// URL (it is 'lms.example.edu'): "
        "fix it and try again."
    )
    assert set(
        CourseRun.objects.filter(b2b_contract=offline_contract).values_list(
            "edx_status", "edx_error"
        )
    ) == {("not-configured", "")}
