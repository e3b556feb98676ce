"""One checkout measured in process: the first step of ``make bench-checkout``.

A learner's apply + checkout goes through Django's real WSGI handler (DRF's test client: every
middleware, the session read from the database, the views, the services) on PostgreSQL, one
learner after another, nothing else running in this process. For each checkout it records:

- the wall time of both requests (ms), and this process's CPU time in them (ms: Python's share,
  less sensitive than the wall time to a busy machine);
- the SQL statements sent (every ``cursor.execute``, via ``connection.execute_wrapper``) and the
  time spent in them (ms, as seen by the client: PostgreSQL's planning and execution plus the
  round trip);
- how long the contract row lock was held (ms): from the end of the statement that took it
  (``FOR UPDATE OF "b2b_contractpage"``) to the end of the transaction's ``COMMIT``; every learner
  of the contract queues on that lock, so its hold time bounds the contract's checkouts per
  second whatever the number of cores.

``inprocess_run`` returns the figures; medians are what the benchmark prints.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

LOCK_MARK = 'FOR UPDATE OF "b2b_contractpage"'


@dataclass
class Sample:
    """One checkout: wall ms, statements, SQL ms, contract lock hold ms (0: not taken)."""

    wall_ms: float
    cpu_ms: float
    statements: int
    sql_ms: float
    lock_ms: float
    commit_ms: float
    by_request: list[int] = field(default_factory=list)


class _Meter:
    """Counts statements and their time, and times the contract lock from the statement that
    takes it to the end of the COMMIT that releases it."""

    def __init__(self) -> None:
        self.statements = 0
        self.sql = 0.0
        self.lock_at: float | None = None
        self.lock = 0.0
        self.commit = 0.0
        self.trace: list[str] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ended = time.perf_counter()
            self.statements += 1
            self.sql += ended - started
            self.trace.append(f"{(ended - started) * 1000:6.2f} ms  {sql}")
            if self.lock_at is None and LOCK_MARK in sql:
                self.lock_at = ended

    def committed(self, started: float, ended: float) -> None:
        self.sql += ended - started
        self.trace.append(f"{(ended - started) * 1000:6.2f} ms  COMMIT")
        self.statements += 1
        if self.lock_at is not None:
            self.lock += ended - self.lock_at
            self.commit += ended - started
            self.lock_at = None


def inprocess_run(
    learners: Iterable[tuple[str, str, str]],
    *,
    one_request: bool = False,
) -> list[Sample]:
    """Check out each learner (session key, CSRF token, code) in process; one ``Sample`` each.

    ``one_request``: ``POST /api/v0/checkout/`` with ``{"code": …}`` instead of applying the code
    first. Raises ``RuntimeError`` with the response for a request that did not succeed.
    """
    import os

    from django.db import connection
    from rest_framework.test import APIClient

    meter = _Meter()
    original_commit = connection._commit

    def timed_commit() -> None:
        started = time.perf_counter()
        try:
            original_commit()
        finally:
            meter.committed(started, time.perf_counter())

    samples = []
    connection.ensure_connection()
    connection._commit = timed_commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(meter):
            for session, _csrf, code in learners:
                client = APIClient(HTTP_HOST="127.0.0.1")
                client.cookies["sessionid"] = session
                counts = []
                meter.statements, meter.sql, meter.trace = 0, 0.0, []
                meter.lock, meter.commit = 0.0, 0.0
                started, cpu = time.perf_counter(), time.process_time()
                if one_request:
                    calls = [("/api/v0/checkout/", {"code": f" {code} "}, 201)]
                else:
                    calls = [
                        ("/api/v0/basket/code/", {"code": f" {code} "}, 200),
                        ("/api/v0/checkout/", None, 201),
                    ]
                for path, body, expected in calls:
                    before = meter.statements
                    response = client.post(path, body, format="json")
                    if response.status_code != expected:
                        raise RuntimeError(
                            f"POST {path}: {response.status_code} {response.content[:300]!r}"
                        )
                    counts.append(meter.statements - before)
                wall = time.perf_counter() - started
                samples.append(
                    Sample(
                        wall * 1000,
                        (time.process_time() - cpu) * 1000,
                        meter.statements,
                        meter.sql * 1000,
                        meter.lock * 1000,
                        meter.commit * 1000,
                        counts,
                    )
                )
    finally:
        del connection._commit
    if os.environ.get("BENCH_SQL") == "1":  # the statements of the last checkout, on stderr
        import sys

        sys.stderr.write("\n".join(meter.trace) + "\n")
    return samples


def inprocess_report(label: str, samples: list[Sample]) -> str:
    """One line of medians (and the statements per request of the median-wall checkout)."""

    def median(values: Iterable[float]) -> float:
        return statistics.median(list(values))

    by_request = "+".join(str(n) for n in samples[len(samples) // 2].by_request)
    return (
        f"{label}: {len(samples)} checkouts, "
        f"median wall {median(s.wall_ms for s in samples):.1f} ms "
        f"(this process's CPU {median(s.cpu_ms for s in samples):.1f} ms), "
        f"statements {median(s.statements for s in samples):.0f} ({by_request}), "
        f"SQL {median(s.sql_ms for s in samples):.1f} ms, "
        f"contract lock held {median(s.lock_ms for s in samples):.2f} ms "
        f"(its COMMIT {median(s.commit_ms for s in samples):.2f} ms)"
    )
