"""Real Celery workers on a real broker for the tests that kill them (ARCHITECTURE rule 12).

A worker runs in a process group of its own, so a test can SIGKILL all of it at once (the main
process, its pool and its embedded beat), as a machine that dies would. Each test uses a queue
of its own on ``TEST_CELERY_BROKER_URL``, so runs sharing a broker never take each other's
tasks, and ``forget_queue`` removes what a killed worker left on the broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from django.db import connection

PROJECT = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "")


def broker_up() -> bool:
    parts = urlparse(BROKER)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return True
    except OSError:
        return False


def database_url() -> str:
    """The test database, for the worker and command processes."""
    db = connection.settings_dict
    auth = (db["USER"] or "postgres") + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker or a command on the test database and a fresh queue."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": f"b2b-test-{uuid.uuid4().hex}",
        **extra,
    }


def start_worker(
    env: dict[str, str], log: Path, *, pool: str = "solo", beat: Path | None = None
) -> subprocess.Popen:
    """Start ``celery -A main worker`` (one process in its pool; with ``beat``, Celery beat
    embedded, keeping its schedule in that file) and wait until it is ready."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "main",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        "1",
        "--loglevel",
        "info",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat is not None:
        argv += ["--beat", "--schedule", str(beat)]
    with log.open("a") as out:
        worker = subprocess.Popen(
            argv,
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: "ready." in log.read_text(), seconds=90, what="the worker to start", log=log)
    return worker


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group: nothing of it gets to clean up."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def stop(worker: subprocess.Popen) -> None:
    """Stop the worker as an operator would (SIGTERM: finish the task at hand), else kill it."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill(worker)
    with contextlib.suppress(ProcessLookupError):  # anything left of its group (beat's)
        os.killpg(worker.pid, signal.SIGKILL)


def pool_processes(worker: subprocess.Popen) -> list[int]:
    """The PIDs of the worker's pool processes (the main process's children)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    """Run ``manage.py`` in its own process, as an operator's terminal would."""
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(
    condition: Callable[[], bool], *, seconds: float, what: str, log: Path, every: float = 0.25
) -> float:
    """Wait until ``condition()``; the seconds it took. Fails with the worker's log."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; the worker's log:\n{log.read_text()}")


def task_results(log: Path, task: str) -> list[str]:
    """What the worker's runs of ``task`` returned, in order (from its log)."""
    results = []
    for line in log.read_text().splitlines():
        if f"{task}[" in line:
            succeeded = re.search(r" succeeded in [0-9.e-]+s: (.*)$", line)
            if succeeded:
                results.append(succeeded.group(1))
    return results


def forget_queue(env: dict[str, str]) -> None:
    """Remove the test's queue from the broker with the messages a killed worker left unacked
    (kombu's Redis transport keeps them in ``unacked`` until their visibility timeout)."""
    import redis

    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    client = redis.Redis.from_url(BROKER)
    for tag, payload in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(payload)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
