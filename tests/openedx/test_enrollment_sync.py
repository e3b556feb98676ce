"""Learners enrolled in a contract run are enrolled in the Open edX LMS (SPEC §8), over real HTTP
against the stand-in: mode, idempotency, retries and refusals."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from courses.models import CourseRun, CourseRunEnrollment
from openedx.services import enrollment_sync
from openedx.tasks import enrollment_sync as enrollment_sync_task
from tests.b2b.helpers import new_contract
from tests.factories import UserFactory
from tests.openedx.conftest import CLONE, ENROLL, TOKEN, YEAR, synced

pytestmark = pytest.mark.django_db

SOURCE = "course-v1:MITxT+14.310x+SOURCE"


@pytest.fixture
def contract(wagtail_site, catalog):
    return new_contract(
        "SSO", "sso", contract_start=dt.date(2096, 2, 1), contract_end=dt.date(2096, 6, 30)
    )


@pytest.fixture
def run(edx, contract, add_courseware):
    """The contract's run of 14.310x, created in the stand-in."""
    add_courseware(contract, "course-v1:MITxT+14.310x")
    return CourseRun.objects.get(b2b_contract=contract)


def lms_enrollment(username: str, key: str) -> dict:
    return {
        "user": username,
        "course_details": {"course_id": key, "course_name": "Data Analysis for Social Scientists"},
        "mode": "audit",
        "is_active": True,
    }


def edx_state(enrollment: CourseRunEnrollment) -> tuple:
    enrollment.refresh_from_db()
    return enrollment.edx_status, enrollment.edx_error, enrollment.edx_attempts


def held(edx) -> list[dict]:
    """The stand-in's enrollments without their creation time."""
    return [{k: v for k, v in e.items() if k != "created"} for e in edx.state()["enrollments"]]


def test_a_learner_is_enrolled_in_the_lms_in_audit_mode(edx, run, enroll):
    learner = UserFactory(username="ada")

    enrollment = enroll(learner, run)

    assert edx_state(enrollment) == ("created", "", 1)
    assert held(edx) == [lms_enrollment("ada", run.courseware_id)]
    # The run's token served the enrollment too.
    assert edx.requests(prefix="/api/enrollment/") == [("POST", ENROLL, 200)]
    assert edx.state()["tokens_issued"] == 1
    assert edx.log()[-1]["body"] == {
        "user": "ada",
        "mode": "audit",
        "is_active": True,
        "course_details": {"course_id": run.courseware_id},
        "force_enrollment": True,
    }


def test_enrollment_is_retried_after_a_server_error(edx, run, enroll):
    edx.fail("500", 1, path=ENROLL)

    enrollment = enroll(UserFactory(username="grace"), run)

    assert edx_state(enrollment) == ("created", "", 1)
    assert edx.requests(prefix=ENROLL) == [("POST", ENROLL, 500), ("POST", ENROLL, 200)]
    assert held(edx) == [lms_enrollment("grace", run.courseware_id)]


def test_enrolling_again_is_idempotent_in_the_lms(edx, run, enroll, run_command, contract):
    enrollment = enroll(UserFactory(username="alan"), run)
    CourseRunEnrollment.objects.filter(pk=enrollment.pk).update(edx_status="failed")

    out = run_command("b2b_courseware", "sync-edx", str(contract.pk), "--format", "json")

    assert edx_state(enrollment) == ("created", "", 2)
    assert held(edx) == [lms_enrollment("alan", run.courseware_id)]
    assert edx.requests(prefix=ENROLL) == [("POST", ENROLL, 200), ("POST", ENROLL, 200)]
    assert json.loads(out.stdout) == {
        "contract_id": contract.pk,
        "dry_run": False,
        "items": [
            {
                "kind": "enrollment",
                "run": run.courseware_id,
                "learner": "alan",
                "before": "failed",
                "after": "created",
                "outcome": "created",
                "detail": "enrolled in the LMS (audit)",
            }
        ],
        "message": f"Contract {contract.pk}: synced 0 runs and 1 enrollment with Open edX: "
        "1 created, 0 failed.",
    }


def test_the_task_delivered_twice_enrolls_once(edx, run, enroll):
    enrollment = enroll(UserFactory(username="barbara"), run)

    assert enrollment_sync_task.delay(enrollment.pk).get() == "created"

    assert edx.requests(prefix=ENROLL) == [("POST", ENROLL, 200)]


def test_an_unknown_lms_user_fails_without_retry(edx, run, enroll):
    edx.configure(auto_users=False)

    enrollment = enroll(UserFactory(username="nobody"), run)

    assert edx_state(enrollment) == (
        "failed",
        f"LMS enrollment of nobody in {run.courseware_id} refused (406): The user nobody does "
        "not exist.",
        1,
    )
    assert edx.requests(prefix=ENROLL) == [("POST", ENROLL, 406)]
    assert held(edx) == []


def test_a_run_not_yet_in_studio_is_created_before_the_enrollment(
    edx, contract, add_courseware, enroll, settings
):
    settings.OPENEDX_API_BASE_URL = ""
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    settings.OPENEDX_API_BASE_URL = edx.url

    enrollment = enroll(UserFactory(username="edsger"), run)

    key = run.courseware_id
    assert key == f"course-v1:UAI_UX+14.310x+{YEAR}_C{contract.pk}"
    assert edx.requests() == [TOKEN, *synced(key, SOURCE), ("POST", ENROLL, 200)]
    run.refresh_from_db()
    assert (run.edx_status, enrollment.edx_status) == ("created", "created")


def test_a_run_that_cannot_be_created_fails_the_enrollment_with_its_error(
    edx, contract, add_courseware, enroll, settings
):
    settings.OPENEDX_API_BASE_URL = ""
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    settings.OPENEDX_API_BASE_URL = edx.url
    edx.fail("500", 3, path=CLONE)

    enrollment = enroll(UserFactory(username="donald"), run)

    key = run.courseware_id
    assert edx_state(enrollment) == (
        "failed",
        f"The course run {key} is not in Open edX yet (failed: Studio clone of {SOURCE} into "
        f"{key}: 500 Internal Server Error (injected by the stand-in).; gave up after 3 attempts)",
        1,
    )
    assert edx.requests(prefix=ENROLL) == []


def test_an_enrollment_in_a_run_another_sync_holds_waits_pending(
    edx, contract, run_command, enroll, settings
):
    settings.OPENEDX_API_BASE_URL = ""
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    settings.OPENEDX_API_BASE_URL = edx.url
    # A worker claimed the run's sync a minute ago (and may have died since).
    claimed = timezone.now() - dt.timedelta(minutes=1)
    CourseRun.objects.filter(pk=run.pk).update(edx_status="pending", edx_last_attempt_on=claimed)

    enrollment = enroll(UserFactory(username="donald"), run)

    until = (claimed + dt.timedelta(seconds=settings.OPENEDX_SYNC_LEASE)).isoformat(
        timespec="seconds"
    )
    assert edx_state(enrollment) == (
        "pending",
        f"waiting for the course run {run.courseware_id}: another sync is at work on it (its "
        f"claim lapses at {until})",
        1,
    )
    assert edx.requests(prefix=CLONE) == []
    assert edx.requests(prefix=ENROLL) == []


def test_enrollments_in_runs_from_edx_go_straight_to_the_lms(edx, catalog, enroll):
    # A catalog run (not created here) is in Open edX already: nothing is cloned for it.
    public = CourseRun.objects.create(
        course=catalog.data,
        courseware_id="course-v1:MITxT+14.310x+1T2026",
        run_tag="1T2026",
        title="Data Analysis for Social Scientists",
        live=True,
    )
    edx.add_run(public.courseware_id, "Data Analysis for Social Scientists")

    enrollment = enroll(UserFactory(username="barbara"), public)

    assert edx_state(enrollment) == ("created", "", 1)
    assert edx.requests() == [TOKEN, ("POST", ENROLL, 200)]


def test_not_configured_enrollments_send_nothing(standin, add_courseware, contract, enroll):
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)

    enrollment = enroll(UserFactory(username="ada"), run)

    assert edx_state(enrollment) == ("not-configured", "", 0)
    assert enrollment_sync(enrollment.pk).outcome == "not-configured"
    assert standin.requests() == []
