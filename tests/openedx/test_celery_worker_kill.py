"""Open edX syncs lost to a dead worker (ARCHITECTURE rule 12), on a real Celery worker, Redis,
PostgreSQL and the stand-in: a worker SIGKILLed mid-clone (its whole process group), and an
enrollment whose task never reached the broker, both end ``created`` with no operator, through
a second worker's beat (2-second period, 3-second sync lease).

Runs on PostgreSQL with ``TEST_CELERY_BROKER_URL`` set, as ``.ci/run`` does; skipped otherwise.
"""

import ast
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from courses.models import CourseRun, CourseRunEnrollment
from tests.b2b.helpers import make_contract
from tests.celery_worker import (
    BROKER,
    broker_up,
    forget_queue,
    kill,
    manage,
    start_worker,
    stop,
    task_results,
    wait_for,
    worker_env,
)
from tests.factories import UserFactory
from tests.openedx.conftest import CLONE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ENROLL

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.skipif(
        not BROKER, reason="set TEST_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/3)"
    ),
    pytest.mark.django_db(transaction=True),
]


def check(contract) -> tuple[int, list]:
    out = io.StringIO()
    try:
        call_command(
            "b2b_check",
            "--contract",
            str(contract.pk),
            "--format",
            "json",
            stdout=out,
            stderr=io.StringIO(),
        )
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue() or "[]")


def test_syncs_lost_to_a_killed_worker_or_before_the_broker_end_created_with_no_operator(
    wagtail_site, catalog, run_command, standin_server, standin, tmp_path
):
    assert broker_up(), f"the broker at {BROKER} does not answer"
    contract = make_contract(run_command, "Open", "sso")
    env = worker_env(
        OPENEDX_API_BASE_URL=standin_server.url,
        OPENEDX_STUDIO_API_BASE_URL=standin_server.studio_url,
        OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID=DEFAULT_CLIENT_ID,
        OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET=DEFAULT_CLIENT_SECRET,
        OPENEDX_RETRY_BACKOFF="0.01",
    )
    # Each request takes 3 s: the first worker dies long before its sync reaches the clone.
    standin.configure(latency=3.0)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(env, first_log)
    second = None
    try:
        added = manage(env, "b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
        assert added.returncode == 0, added.stderr
        assert "Open edX: 1 queued for the Celery worker." in added.stderr
        run = CourseRun.objects.get(b2b_contract=contract)

        def claimed() -> bool:
            run.refresh_from_db()
            return run.edx_attempts == 1

        wait_for(claimed, seconds=90, what="the sync to start", log=first_log, every=0.05)
        kill(first)
        run.refresh_from_db()
        assert (run.edx_status, run.edx_attempts) == ("pending", 1)

        # A learner enrolled by a process that died between its commit and the broker.
        enrollment = CourseRunEnrollment.objects.create(
            user=UserFactory(username="ada"), run=run, edx_status="pending"
        )
        standin.configure(latency=0.0)
        second = start_worker(
            {**env, "REQUEUE_PENDING_AFTER": "2", "OPENEDX_SYNC_LEASE": "3"},
            second_log,
            beat=tmp_path / "beat",
        )

        def synced() -> bool:
            run.refresh_from_db()
            enrollment.refresh_from_db()
            return (run.edx_status, enrollment.edx_status) == ("created", "created")

        wait_for(synced, seconds=120, what="the run and the enrollment in edX", log=second_log)
    finally:
        for worker in (first, second):
            if worker is not None:
                stop(worker)
        forget_queue(env)

    assert (run.edx_attempts, run.edx_error, enrollment.edx_attempts) == (2, "", 1)
    # Beat's task queued both again (in one run, or the run first: its lease lapsed later).
    requeued = [ast.literal_eval(r) for r in task_results(second_log, "edx_syncs_requeue")]
    queued = [(r["runs"], r["enrollments"]) for r in requeued if r["runs"] or r["enrollments"]]
    assert queued in ([([run.pk], [enrollment.pk])], [([run.pk], []), ([], [enrollment.pk])])
    # Studio saw one clone, the LMS one enrollment.
    assert [r[2] for r in standin.requests(prefix=CLONE)] == [201]
    assert [r[2] for r in standin.requests(prefix=ENROLL)] == [200]
    assert check(contract) == (0, [])
