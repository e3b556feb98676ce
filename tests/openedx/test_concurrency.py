"""Two deliveries of the same sync at the same moment (PostgreSQL, real threads, separate
connections): the claim lets one through; Studio sees one clone, the LMS one enrollment."""

import threading

import pytest
from django.db import connection, connections

from courses.models import CourseRun, CourseRunEnrollment
from openedx.services import course_run_sync, enrollment_sync
from tests.b2b.helpers import new_contract
from tests.factories import ContractRunFactory, UserFactory
from tests.openedx.conftest import CLONE, ENROLL

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


def at_once(sync, pk: int) -> list[str]:
    """Run ``sync(pk)`` in two threads released together; their outcomes, sorted."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work() -> None:
        try:
            barrier.wait()
            outcomes.append(sync(pk).outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_two_deliveries_of_a_run_clone_it_once(
    wagtail_site, catalog, settings, standin_server, standin
):
    from tests.openedx.conftest import point_settings_at

    run = ContractRunFactory(b2b_contract=new_contract("Open"), course=catalog.data)
    point_settings_at(settings, standin_server)
    standin.configure(latency=0.2)  # each request takes a while: the two overlap

    assert at_once(course_run_sync, run.pk) == ["created", "in-progress"]

    assert [r[2] for r in standin.requests(prefix=CLONE)] == [201]
    run.refresh_from_db()
    assert (run.edx_status, run.edx_attempts) == ("created", 1)


def test_two_deliveries_of_an_enrollment_enroll_once(
    wagtail_site, catalog, add_courseware, settings, standin_server, standin
):
    from tests.openedx.conftest import point_settings_at

    point_settings_at(settings, standin_server)
    contract = new_contract("Open")
    add_courseware(contract, "course-v1:MITxT+14.310x")
    run = CourseRun.objects.get(b2b_contract=contract)
    enrollment = CourseRunEnrollment.objects.create(user=UserFactory(username="ada"), run=run)
    standin.configure(latency=0.2)

    assert at_once(enrollment_sync, enrollment.pk) == ["created", "in-progress"]

    assert standin.requests(prefix=ENROLL) == [("POST", ENROLL, 200)]
    enrollment.refresh_from_db()
    assert (enrollment.edx_status, enrollment.edx_attempts) == ("created", 1)
