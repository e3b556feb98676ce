"""Open edX syncs whose task was lost are queued again by the periodic task (ARCHITECTURE rule
12): a run or an enrollment ``pending`` longer than ``REQUEUE_PENDING_AFTER`` that a sync may
claim (never claimed, or its claim older than ``OPENEDX_SYNC_LEASE``). Against the stand-in.

The worker-kill scenario on a real Celery worker is in ``test_celery_worker_kill``.
"""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from courses.models import CourseRun, CourseRunEnrollment
from openedx.api import enrollment_edx_queue
from openedx.services import edx_syncs_overdue
from openedx.tasks import edx_syncs_requeue
from tests.b2b.helpers import make_contract
from tests.factories import UserFactory
from tests.openedx.conftest import CLONE, ENROLL

pytestmark = pytest.mark.django_db

PERIOD, LEASE = 60, 900


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


@pytest.fixture
def periods(settings):
    settings.REQUEUE_PENDING_AFTER = PERIOD
    settings.OPENEDX_SYNC_LEASE = LEASE


@pytest.fixture
def contract(wagtail_site, catalog, run_command):
    return make_contract(run_command, "SSO", "sso")


@pytest.fixture
def add_lost(contract, django_capture_on_commit_callbacks):
    """``b2b_courseware add``, and the process dies after the commit, before the broker: the
    runs are ``pending`` and no task was sent."""

    def add(*courses: str) -> list[CourseRun]:
        for course in courses:
            with django_capture_on_commit_callbacks() as dropped:
                call_command(
                    "b2b_courseware",
                    "add",
                    str(contract.pk),
                    course,
                    stdout=io.StringIO(),
                    stderr=io.StringIO(),
                )
            assert dropped
        return list(CourseRun.objects.filter(b2b_contract=contract).order_by("pk"))

    return add


def enroll_lost(user, run, django_capture_on_commit_callbacks) -> CourseRunEnrollment:
    """A learner enrolled (checkout's two steps), the process dying before the broker."""
    with django_capture_on_commit_callbacks(), transaction.atomic():
        enrollment = CourseRunEnrollment.objects.create(user=user, run=run)
        enrollment_edx_queue(enrollment)
    enrollment.refresh_from_db()
    assert enrollment.edx_status == "pending"
    return enrollment


STATES = [
    # (what happened, fields, overdue?)
    ("queued over a period ago, never ran", {"edx_last_attempt_on": None, "ago": 61}, True),
    ("queued less than a period ago", {"edx_last_attempt_on": None, "ago": 59}, False),
    ("claimed, its worker died, lease lapsed", {"edx_last_attempt_on": 901, "ago": 901}, True),
    ("claimed, within the lease", {"edx_last_attempt_on": 120, "ago": 120}, False),
]


def _set(model, pk: int, status: str, fields: dict) -> None:
    attempt = fields["edx_last_attempt_on"]
    model.objects.filter(pk=pk).update(
        edx_status=status,
        edx_last_attempt_on=ago(attempt) if attempt is not None else None,
        updated_on=ago(fields["ago"]),
    )


@pytest.mark.parametrize(("what", "fields", "overdue"), STATES, ids=[s[0] for s in STATES])
def test_which_pending_runs_and_enrollments_are_overdue(
    edx, periods, add_lost, django_capture_on_commit_callbacks, what, fields, overdue
):
    [run] = add_lost("course-v1:MITxT+14.310x")
    enrollment = enroll_lost(UserFactory(username="ada"), run, django_capture_on_commit_callbacks)
    _set(CourseRun, run.pk, "pending", fields)
    _set(CourseRunEnrollment, enrollment.pk, "pending", fields)

    assert edx_syncs_overdue() == (([run.pk], [enrollment.pk]) if overdue else ([], []))


@pytest.mark.parametrize("status", ["failed", "created", "not-configured"])
def test_runs_and_enrollments_not_pending_are_never_requeued(
    edx, periods, add_lost, django_capture_on_commit_callbacks, status
):
    [run] = add_lost("course-v1:MITxT+14.310x")
    enrollment = enroll_lost(UserFactory(username="ada"), run, django_capture_on_commit_callbacks)
    old = {"edx_last_attempt_on": 3600, "ago": 3600}
    _set(CourseRun, run.pk, status, old)
    _set(CourseRunEnrollment, enrollment.pk, status, old)

    assert edx_syncs_overdue() == ([], [])


def test_a_pending_run_not_created_here_is_left_alone(edx, periods, add_lost):
    [run] = add_lost("course-v1:MITxT+14.310x")
    CourseRun.objects.filter(pk=run.pk).update(edx_source_key="", updated_on=ago(3600))

    assert edx_syncs_overdue() == ([], [])


def test_nothing_is_requeued_while_edx_is_off(
    edx, periods, add_lost, settings, django_capture_on_commit_callbacks
):
    [run] = add_lost("course-v1:MITxT+14.310x")
    enrollment = enroll_lost(UserFactory(username="ada"), run, django_capture_on_commit_callbacks)
    CourseRun.objects.filter(pk=run.pk).update(updated_on=ago(3600))
    CourseRunEnrollment.objects.filter(pk=enrollment.pk).update(updated_on=ago(3600))
    settings.OPENEDX_API_BASE_URL = ""

    assert edx_syncs_overdue() == ([], [])
    assert edx_syncs_requeue() == {"runs": [], "enrollments": []}


def test_the_periodic_task_requeues_exactly_the_lost_syncs_and_they_complete(
    edx, periods, add_lost, django_capture_on_commit_callbacks
):
    lost, recent = add_lost("course-v1:MITxT+14.310x", "course-v1:MITxT+14.100x")
    ada = enroll_lost(UserFactory(username="ada"), lost, django_capture_on_commit_callbacks)
    enroll_lost(UserFactory(username="bob"), recent, django_capture_on_commit_callbacks)
    CourseRun.objects.filter(pk=lost.pk).update(updated_on=ago(61))
    CourseRunEnrollment.objects.filter(pk=ada.pk).update(updated_on=ago(61))
    assert edx.requests() == []  # nothing reached Open edX: the tasks were lost

    # Beat's task (eager here: the syncs it queues run at once).
    assert edx_syncs_requeue() == {"runs": [lost.pk], "enrollments": [ada.pk]}

    statuses = {
        r.courseware_id: r.edx_status for r in CourseRun.objects.filter(pk__in=[lost.pk, recent.pk])
    }
    assert statuses == {lost.courseware_id: "created", recent.courseware_id: "pending"}
    assert list(
        CourseRunEnrollment.objects.order_by("user__username").values_list(
            "user__username", "edx_status", "edx_attempts"
        )
    ) == [("ada", "created", 1), ("bob", "pending", 0)]
    assert [r for r in edx.requests() if r[1] in (CLONE, ENROLL)] == [
        ("POST", CLONE, 201),
        ("POST", ENROLL, 200),
    ]
    # Done: the next run of the task queues nothing more.
    assert edx_syncs_requeue() == {"runs": [], "enrollments": []}
