"""The clone as a real Celery task: ``b2b_courseware add`` queues it on commit through the
broker, a real worker runs it against the stand-in, and a second delivery finds the run created
and stops.

On PostgreSQL (the worker, a separate process, shares the test database) when
``TEST_CELERY_BROKER_URL`` names a broker, as ``.ci/run`` sets it; skipped otherwise. A queue of
its own keeps other workers' tasks apart.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

from courses.models import CourseRun
from tests.b2b.helpers import new_contract
from tests.openedx.conftest import CLONE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

PROJECT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "")


def broker_up() -> bool:
    parts = urlparse(BROKER)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.skipif(
        not BROKER, reason="set TEST_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/3)"
    ),
]


def database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def wait_for(predicate, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; the worker's log:\n{log.read_text()}")


def clone_results(log: Path) -> list[str]:
    """What the worker's ``course_run_clone`` tasks returned, in order."""
    return [
        line.rsplit(": ", 1)[1]
        for line in log.read_text().splitlines()
        if "openedx.tasks.course_run_clone[" in line and " succeeded in " in line
    ]


def test_a_worker_clones_the_run_and_a_second_delivery_stops(
    wagtail_site, catalog, standin_server, standin, tmp_path
):
    assert broker_up(), f"the broker at {BROKER} does not answer"
    contract = new_contract("Open")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": f"b2b-test-{uuid.uuid4().hex}",
        "OPENEDX_API_BASE_URL": standin_server.url,
        "OPENEDX_STUDIO_API_BASE_URL": standin_server.studio_url,
        "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID": DEFAULT_CLIENT_ID,
        "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "OPENEDX_RETRY_BACKOFF": "0.01",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "main",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: "ready." in log_path.read_text(), seconds=90, what="the worker", log=log_path
        )
        add = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "b2b_courseware",
                "add",
                str(contract.pk),
                "course-v1:MITxT+14.310x",
            ],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert add.returncode == 0, add.stderr
        assert "Open edX: 1 queued for the Celery worker." in add.stderr
        run = CourseRun.objects.get(b2b_contract=contract)

        def created() -> bool:
            run.refresh_from_db()
            return run.edx_status == "created"

        wait_for(created, seconds=90, what="the run to be created in Studio", log=log_path)
        again = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                f"from openedx.tasks import course_run_clone; course_run_clone.delay({run.pk})",
            ],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        wait_for(
            lambda: len(clone_results(log_path)) == 2,
            seconds=90,
            what="the second delivery",
            log=log_path,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    # Both deliveries succeeded and returned the run's status; Studio saw one clone.
    assert clone_results(log_path) == ["'created'", "'created'"]
    assert [r[2] for r in standin.requests(prefix=CLONE)] == [201]
    run.refresh_from_db()
    assert (run.edx_status, run.edx_attempts) == ("created", 1)
