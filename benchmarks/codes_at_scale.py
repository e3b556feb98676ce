"""The enrollment-code adjustment at the scale of a large customer (``make bench``).

On PostgreSQL (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/b2b_bench``,
dropped and created afresh), a non-SSO contract of ``BENCH_CODES_LEARNERS`` learners (10,000; at
most 100,000, the product's learner cap) with ``BENCH_CODES_COURSES`` courses (50):

  0. the floor: psycopg ``COPY ... FROM STDIN`` of the same codes and links, fed from Python
     (ids reserved from the sequence, UUID4 codes made in Python, as generation must); with
     ``BENCH_PORTABLE=1``, also the portable ``bulk_create`` path, for comparison;
  1. generate all codes (learners × courses codes and their product links);
  2. lower the cap to half (half the codes deactivated);
  3. change the price (the usable codes re-priced);
  4. remove the cap (the usable codes become unlimited);
  5. export the CSV, in a fresh process, with its memory above that process's baseline.

Prints seconds, queries, rows/s and the ratio to the COPY floor for as many rows per step (a
ratio that grows with the size is where the adjustment is not linear), the query budget of SPEC
§4.8 (``QUERIES_PER_PRODUCT`` × products + codes / ``BATCH_SIZE``) and the targets: generation
within 2× the floor, steps 2–4 under 10 s per 500,000 codes, the CSV under 150 MB above baseline
at ≥ 100,000 rows/s. Tables are ANALYZEd between steps (outside the timings), as autovacuum would
in production.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bench import bench_database, django_migrated  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/b2b_bench"


def _size(name: str, default: int, most: int) -> int:
    """A size from the environment: a whole number from 2 to ``most``; exit 2 otherwise."""
    raw = os.environ.get(name, "").replace("_", "").replace(",", "") or str(default)
    if not raw.isdigit() or not 2 <= int(raw) <= most:
        print(f"{name}={raw!r}: give a whole number from 2 to {most:,}.", file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


def _sizes() -> tuple[int, int]:
    """(learners, courses) of the contract: ``BENCH_CODES_LEARNERS`` (10,000; at most the
    product's learner cap, ``b2b.validators.MAX_LEARNERS``) and ``BENCH_CODES_COURSES`` (50)."""
    from b2b.validators import MAX_LEARNERS

    return (
        _size("BENCH_CODES_LEARNERS", 10_000, MAX_LEARNERS),
        _size("BENCH_CODES_COURSES", 50, 1_000),
    )


@dataclass
class Step:
    name: str
    seconds: float
    queries: int
    rows: int
    budget: int | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def main() -> int:
    load = os.getloadavg()
    learners, courses = _sizes()
    url = bench_database("BENCH_DATABASE_URL", DEFAULT_URL)
    if url is None:
        return 2

    django_migrated()
    lowered = learners // 2
    total = learners * courses
    #: Steps 2-4 touch half the codes: under 10 s at 500,000 codes, in proportion above.
    step_target = 10.0 * max(1.0, total / 500_000)
    print(
        f"Contract of {learners:,} learners x {courses} courses = {total:,} codes",
        file=sys.stderr,
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from b2b.models import ContractPage
    from b2b.services import codes_store
    from b2b.services.codes import BATCH_SIZE, QUERIES_PER_PRODUCT, codes_adjust
    from b2b.services.contracts import contract_create
    from b2b.services.courseware import courseware_add
    from courses.models import Course, CourseRun
    from ecommerce.models import Discount, DiscountProduct, Product

    for n in range(courses):
        course = Course.objects.create(
            readable_id=f"course-v1:BenchX+B{n:03d}x", title=f"Bench course {n}"
        )
        CourseRun.objects.create(
            course=course,
            courseware_id=f"{course.readable_id}+SOURCE",
            run_tag="SOURCE",
            title=course.title,
            is_source_run=True,
        )
    contract = contract_create(
        organization="Bench University",
        create_organization=True,
        org_key="BENCH",
        name="Bench contract",
        integration_type="sso",
    ).contract
    for course in Course.objects.order_by("pk"):
        courseware_add(contract.pk, course.readable_id)
    products = list(Product.objects.filter(course_run__b2b_contract=contract).order_by("pk"))
    assert len(products) == courses

    def contract_set(**fields):
        ContractPage.objects.filter(pk=contract.pk).update(**fields)

    def analyze():
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE ecommerce_discount, ecommerce_discountproduct, "
                "ecommerce_discountredemption"
            )

    def empty_codes():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE ecommerce_discountproduct, ecommerce_discount CASCADE")

    def measure(name, work, *, rows_of, budget_rows=None):
        analyze()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = work()
            seconds = time.perf_counter() - started
        rows = rows_of(result)
        budget = None
        if budget_rows is not None:
            budget = QUERIES_PER_PRODUCT * len(products) + math.ceil(
                budget_rows(result) / BATCH_SIZE
            )
        step = Step(name, seconds, len(queries), rows, budget)
        print(f"  {name}: {seconds:.2f} s, {len(queries)} queries, {rows:,} rows", file=sys.stderr)
        return step

    steps: list[Step] = []

    # 0. The floor: COPY of the same rows, fed from Python.
    def floor():
        from django.db import transaction
        from django.utils import timezone

        with transaction.atomic():
            now = timezone.now()
            ids = codes_store.reserve_ids(Discount._meta.db_table, total)
            fixed = (0, "fixed-price", "one-time", "sales", True, True, None, None, now, now)
            codes_store.copy_rows(
                Discount._meta.db_table,
                codes_store.DISCOUNT_COLUMNS,
                ((pk, codes_store.new_code(), *fixed) for pk in ids),
            )
            codes_store.copy_rows(
                DiscountProduct._meta.db_table,
                ("discount_id", "product_id"),
                ((pk, products[i // learners].pk) for i, pk in enumerate(ids)),
            )
        return total

    print("Measuring:", file=sys.stderr)
    contract_set(integration_type="non-sso", max_learners=learners)
    floor_step = measure(
        f"0. floor: psycopg COPY of {total:,} codes + links", floor, rows_of=lambda n: n
    )
    empty_codes()
    portable = None
    if os.environ.get("BENCH_PORTABLE") == "1":
        codes_store.FAST_PATH = False
        portable = measure(
            "0b. generate, portable bulk_create path",
            lambda: codes_adjust(contract.pk),
            rows_of=lambda r: r.total("created"),
            budget_rows=lambda r: r.total("created"),
        )
        codes_store.FAST_PATH = True
        empty_codes()
    steps.append(
        measure(
            "1. generate all codes (COPY fast path)",
            lambda: codes_adjust(contract.pk),
            rows_of=lambda r: r.total("created"),
            budget_rows=lambda r: r.total("created"),
        )
    )
    contract_set(max_learners=lowered)
    steps.append(
        measure(
            f"2. lower the cap to {lowered:,}",
            lambda: codes_adjust(contract.pk),
            rows_of=lambda r: r.total("deactivated"),
            budget_rows=lambda r: r.total("deactivated"),
        )
    )
    contract_set(enrollment_fixed_price="49.00")
    steps.append(
        measure(
            "3. change the price",
            lambda: codes_adjust(contract.pk),
            rows_of=lambda r: r.total("repriced"),
            budget_rows=lambda r: r.total("repriced"),
        )
    )
    contract_set(max_learners=None)
    steps.append(
        measure(
            "4. remove the cap",
            lambda: codes_adjust(contract.pk),
            rows_of=lambda r: r.total("converted"),
            budget_rows=lambda r: r.total("converted"),
        )
    )
    analyze()
    connection.close()

    # 5. The CSV, in a fresh process that measures its own memory.
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("csv_export.py")),
                str(contract.pk),
                str(Path(folder) / "codes.csv"),
            ],
            env=os.environ,
            check=True,
            capture_output=True,
            text=True,
        )
    export = json.loads(out.stdout)
    csv_step = Step(
        "5. export the CSV (streamed)", export["seconds"], export["queries"], export["rows"]
    )
    steps.append(csv_step)

    # Report.
    print()
    quiet = "quiet" if load[0] < 1 else "NOT quiet: figures are pessimistic"
    print(
        f"{learners:,} learners x {courses} courses = {total:,} codes; load average at start "
        f"{load[0]:.2f} ({quiet}); / floor: the step's time over the COPY floor's for as many rows"
    )
    print(
        f"{'step':<48} {'seconds':>8} {'queries':>8} {'budget':>7} {'rows':>10} {'rows/s':>10} "
        f"{'/ floor':>8}"
    )
    for step in [floor_step, *([portable] if portable else []), *steps]:
        budget = "" if step.budget is None else str(step.budget)
        # The CSV reads rows rather than writing them: no COPY floor to compare it with.
        ratio = f"{floor_step.rate / step.rate:.2f}" if step.rate and step is not csv_step else ""
        print(
            f"{step.name:<48} {step.seconds:>8.2f} {step.queries:>8} {budget:>7} {step.rows:>10,} "
            f"{step.rate:>10,.0f} {ratio:>8}"
        )
    print()
    generate = steps[0]
    checks = [
        (
            f"generation / COPY floor = {generate.seconds / floor_step.seconds:.2f} (target ≤ 2.00)"
            + (
                f"; portable bulk_create / floor = {portable.seconds / floor_step.seconds:.2f}"
                if portable
                else ""
            ),
            generate.seconds <= 2 * floor_step.seconds,
        ),
        *[
            (f"{s.name}: {s.seconds:.2f} s (target < {step_target:.0f} s)", s.seconds < step_target)
            for s in steps[1:4]
        ],
        *[
            (
                f"{s.name}: {s.queries} queries (budget {s.budget} = "
                f"{QUERIES_PER_PRODUCT}×{len(products)} products + rows/{BATCH_SIZE:,})",
                s.queries <= s.budget,
            )
            for s in [*([portable] if portable else []), *steps[:4]]
        ],
        (
            f"CSV memory: {export['peak_mb'] - export['baseline_mb']:.1f} MB above the "
            f"process's baseline of {export['baseline_mb']:.1f} MB (target < 150 MB)",
            export["peak_mb"] - export["baseline_mb"] < 150,
        ),
        (f"CSV speed: {csv_step.rate:,.0f} rows/s (target ≥ 100,000)", csv_step.rate >= 100_000),
    ]
    for text, ok in checks:
        print(f"[{'ok' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
