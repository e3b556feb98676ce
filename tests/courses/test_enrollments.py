"""The one enrollment writer (``courses.enrollments.enrollment_activate``) and the call every way
into a run makes (``openedx.api.enrollment_enroll``)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from courses.enrollments import enrollment_activate
from courses.exceptions import AlreadyEnrolled
from courses.models import CourseRunEnrollment, EdxStatus
from tests.factories import CourseRunFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return CourseRunFactory()


@pytest.fixture
def learner():
    return UserFactory(username="ada")


def test_a_new_enrollment_is_one_insert_in_the_state_given(run, learner):
    with CaptureQueriesContext(connection) as queries:
        write = enrollment_activate(learner, run=run, edx_status=EdxStatus.PENDING, existing=None)
    assert len(queries) == 1
    assert (write.created, write.reactivated, write.changed) == (True, False, True)
    row = CourseRunEnrollment.objects.get(user=learner, run=run)
    assert (row.pk, row.active, row.edx_status) == (write.enrollment.pk, True, "pending")


def test_an_inactive_enrollment_is_reactivated_in_one_update(run, learner):
    old = CourseRunEnrollment.objects.create(
        user=learner, run=run, active=False, edx_status=EdxStatus.CREATED
    )
    with CaptureQueriesContext(connection) as queries:
        write = enrollment_activate(
            learner, run=run, edx_status=EdxStatus.NOT_CONFIGURED, existing=old
        )
    assert len(queries) == 1
    assert (write.created, write.reactivated, write.enrollment.pk) == (False, True, old.pk)
    old.refresh_from_db()
    assert (old.active, old.edx_status) == (True, "not-configured")
    assert CourseRunEnrollment.objects.count() == 1


def test_an_active_enrollment_is_left_as_it_is(run, learner):
    active = CourseRunEnrollment.objects.create(user=learner, run=run, edx_status="created")
    write = enrollment_activate(learner, run=run, edx_status=EdxStatus.PENDING)
    assert (write.changed, write.enrollment.pk) == (False, active.pk)
    active.refresh_from_db()
    assert (active.active, active.edx_status) == (True, "created")


def test_an_enrollment_made_meanwhile_is_refused_by_its_unique_constraint(run, learner):
    # given an enrollment the caller did not see (it read none before another request made it)
    CourseRunEnrollment.objects.create(user=learner, run=run)
    # then the writer's insert collides, and the refusal says so (not the database's text)
    with transaction.atomic(), pytest.raises(AlreadyEnrolled) as refusal:
        enrollment_activate(learner, run=run, edx_status=EdxStatus.PENDING, existing=None)
    assert refusal.value.message == f"You are already enrolled in {run.title}."
    assert CourseRunEnrollment.objects.filter(user=learner, run=run).count() == 1


def test_enroll_queues_the_lms_enrollment_once_when_edx_is_configured(
    run, learner, monkeypatch, django_capture_on_commit_callbacks
):
    import openedx.api
    from openedx.tasks import enrollment_sync

    sent: list[int] = []
    monkeypatch.setattr(openedx.api, "edx_configured", lambda: True)
    monkeypatch.setattr(enrollment_sync, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        first = openedx.api.enrollment_enroll(learner, run=run)
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = openedx.api.enrollment_enroll(learner, run=run)
    assert (first.created, first.enrollment.edx_status) == (True, "pending")
    assert sent == [first.enrollment.pk]
    assert (second.changed, len(again)) == (False, 0)


def test_enroll_without_edx_marks_the_enrollment_not_configured(
    run, learner, django_capture_on_commit_callbacks
):
    from openedx.api import enrollment_enroll

    with django_capture_on_commit_callbacks() as callbacks:
        write = enrollment_enroll(learner, run=run)
    assert (write.created, len(callbacks)) == (True, 0)
    assert CourseRunEnrollment.objects.get(pk=write.enrollment.pk).edx_status == "not-configured"
