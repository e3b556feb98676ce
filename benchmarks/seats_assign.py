"""Seats assigned by email in bulk (SPEC §9; ``make bench-seats``).

On PostgreSQL (``BENCH_SEATS_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/b2b_seats_bench``, dropped and created afresh): a non-SSO
contract capped at 10,000 learners with two course runs (20,000 enrollment codes, made by the
code adjustment). Measures ``seats_assign`` previewing, then assigning, lists of 100, 1,000 and
10,000 new emails (each on a fresh contract), with wall-clock seconds and the query count:
queries must not grow per row beyond a fixed cost per batch (``BATCH`` emails looked up, 1,000
rows written). Mail is queued, not sent (the worker sends it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bench import bench_database, django_migrated  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/b2b_seats_bench"
SIZES = (100, 1_000, 10_000)
CAP = 10_000


def main() -> int:
    url = bench_database("BENCH_SEATS_DATABASE_URL", DEFAULT_URL)
    if url is None:
        return 2
    django_migrated()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from b2b.services.assignments import seats_assign
    from b2b.services.codes import codes_adjust
    from b2b.services.contracts import contract_create
    from b2b.services.courseware import courseware_add
    from courses.models import Course, CourseRun

    settings.CELERY_TASK_ALWAYS_EAGER = False  # mails queued, not sent in this process
    courses = []
    for number in ("SEAT101x", "SEAT102x"):
        course = Course.objects.create(
            readable_id=f"course-v1:BenchX+{number}", title=f"Bench {number}"
        )
        CourseRun.objects.create(
            course=course,
            courseware_id=f"{course.readable_id}+SOURCE",
            run_tag="SOURCE",
            title=course.title,
            is_source_run=True,
        )
        courses.append(course)

    print(f"{'rows':>7} {'step':<8} {'seconds':>8} {'queries':>8}  outcome", file=sys.stderr)
    for size in SIZES:
        contract = contract_create(
            organization="Bench Seats University",
            create_organization=True,
            org_key="BENCHSEATS",
            name=f"Bench seats {size}",
            integration_type="non-sso",
            max_learners=CAP,
        ).contract
        for course in courses:
            courseware_add(contract.pk, course.readable_id)
        codes_adjust(contract.pk)  # its 2 x 10,000 codes (the task is not run in this process)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        rows = [(f"person{n}@bench.example.edu", f"Person {n}") for n in range(size)]
        for step, apply in (("preview", False), ("assign", True)):
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                report = seats_assign(contract.pk, rows, apply=apply)
                seconds = time.perf_counter() - started
            print(
                f"{size:>7} {step:<8} {seconds:>8.2f} {len(queries):>8}  "
                f"{report.count('assigned')} assigned",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
