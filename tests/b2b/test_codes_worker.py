"""The adjustment in a real Celery worker (SPEC §4): a command queues it through the broker,
a worker process runs it.

Runs on PostgreSQL (the worker and the command are separate processes on the test database) when
``TEST_CELERY_BROKER_URL`` names a reachable broker, as ``.ci/run`` sets it; skipped otherwise.
Each run uses a queue of its own, so test runs sharing a broker never take each other's tasks.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from ecommerce.models import Discount
from tests.b2b.codes_helpers import DATA, product, tally
from tests.b2b.helpers import new_contract

BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "")
ROOT = Path(settings.BASE_DIR)


def _reachable(url: str) -> bool:
    parts = urlparse(url)
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2
        ).close()
    except OSError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the worker needs the PostgreSQL test database"
    ),
    pytest.mark.skipif(
        not BROKER, reason="set TEST_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/3)"
    ),
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(condition, *, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_worker_adjusts_the_codes_a_command_queued(wagtail_site, catalog, tmp_path):
    assert _reachable(BROKER), f"the broker at {BROKER} does not answer"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": f"b2b-test-{uuid.uuid4().hex}",
    }
    log = (tmp_path / "worker.log").open("w")
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
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        contract = new_contract("Worker", max_learners=25)

        def command(*argv: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "manage.py", *argv],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )

        added = command("b2b_courseware", "add", str(contract.pk), DATA)
        assert "The enrollment-code adjustment is queued for the Celery worker." in added.stderr
        codes = Discount.objects.filter(product_links__product__course_run__b2b_contract=contract)
        assert _wait_for(lambda: codes.count() == 25), (tmp_path / "worker.log").read_text()[-3000:]
        assert tally(product(contract, DATA)) == {"one-time active 0.00": 25}

        command("b2b_contract", "modify", str(contract.pk), "--max-learners", "10", "--price", "12")
        assert _wait_for(lambda: codes.filter(is_active=True, amount=12).count() == 10)
        assert _wait_for(
            lambda: (
                tally(product(contract, DATA))
                == {"one-time active 12.00": 10, "one-time inactive 0.00": 15}
            )
        )
        assert "contract_codes_adjust" in (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
