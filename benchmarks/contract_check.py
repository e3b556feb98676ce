"""``b2b_check`` over a large estate (``make bench-check``, part of ``make bench``).

On PostgreSQL (``BENCH_CHECK_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/b2b_check_bench``, dropped and created afresh):
100 non-SSO contracts in 10 organizations, each capped at 5,000 learners with one course run,
so 500,000 enrollment codes (made by the code adjustment's COPY path); then 20,000 learners
(200 per contract) created in bulk, each with a fulfilled order, a redemption of one of their
contract's codes, an enrollment in the run and a membership. A little drift is added by hand
(a product re-priced, codes deactivated, a run failed in Open edX) so the check has findings.

Measures ``contracts_check()`` over every contract, then the whole ``b2b_check --format json``
command, each with its wall-clock seconds and its query count, after ANALYZE (as autovacuum
would). Target: under 30 s, with a query count that does not depend on codes or learners
(the same count is measured on a one-contract estate first).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bench import bench_database, django_migrated  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/b2b_check_bench"
ORGANIZATIONS, CONTRACTS, CAP, LEARNERS_PER_CONTRACT = 10, 100, 5_000, 200
BATCH = 5_000


def main() -> int:
    url = bench_database("BENCH_CHECK_DATABASE_URL", DEFAULT_URL)
    if url is None:
        return 2

    django_migrated()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from b2b.models import ContractMembership
    from b2b.services.check import contracts_check
    from b2b.services.contracts import contract_create
    from b2b.services.courseware import courseware_add
    from courses.models import Course, CourseRun, CourseRunEnrollment
    from ecommerce.models import Discount, DiscountRedemption, Order, Product

    course = Course.objects.create(readable_id="course-v1:BenchX+CHK101x", title="Bench course")
    CourseRun.objects.create(
        course=course,
        courseware_id=f"{course.readable_id}+SOURCE",
        run_tag="SOURCE",
        title=course.title,
        is_source_run=True,
    )

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def measure(name: str, work) -> tuple[float, int, object]:
        analyze()
        # The query log keeps 9,000 entries; the estate's set-up filled it.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = work()
            seconds = time.perf_counter() - started
        print(f"  {name}: {seconds:.2f} s, {len(queries)} queries", file=sys.stderr)
        return seconds, len(queries), result

    def check_command() -> int:
        try:
            call_command(
                "b2b_check", "--format", "json", stdout=io.StringIO(), stderr=io.StringIO()
            )
        except SystemExit as exc:  # pragma: no cover - call_command raises, never exits
            return int(exc.code or 0)
        except Exception as exc:  # CommandError with the exit status 3
            return getattr(exc, "returncode", 1)
        return 0

    print("Building the estate...", file=sys.stderr)
    started = time.perf_counter()
    contract_ids: list[int] = []
    for n in range(CONTRACTS):
        org = n % ORGANIZATIONS
        contract = contract_create(
            organization=f"Bench University {org}",
            create_organization=True,
            org_key=f"BENCH{org}",
            name=f"Bench contract {n}",
            integration_type="non-sso",
            max_learners=CAP,
        ).contract
        courseware_add(contract.pk, course.readable_id)  # its run, product and 5,000 codes
        contract_ids.append(contract.pk)
        if n == 0:
            # The query count over one contract, one product, a few codes and no learner.
            _, small_queries, _ = measure("check, 1 contract, no learner", contracts_check)
    built_codes = time.perf_counter() - started

    started = time.perf_counter()
    User = get_user_model()
    users = [
        User(username=f"bench{n}", email=f"bench{n}@example.edu", password="!")
        for n in range(CONTRACTS * LEARNERS_PER_CONTRACT)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    users = list(User.objects.filter(username__startswith="bench").order_by("pk"))
    orders = Order.objects.bulk_create(
        [Order(purchaser=user, state=Order.State.FULFILLED) for user in users], batch_size=BATCH
    )
    products = {
        row["course_run__b2b_contract_id"]: row
        for row in Product.objects.filter(is_active=True).values(
            "pk", "course_run_id", "course_run__b2b_contract_id"
        )
    }
    redemptions, enrollments, memberships = [], [], []
    for index, contract_id in enumerate(contract_ids):
        product = products[contract_id]
        codes = list(
            Discount.objects.filter(product_links__product_id=product["pk"])
            .order_by("pk")
            .values_list("pk", flat=True)[:LEARNERS_PER_CONTRACT]
        )
        start = index * LEARNERS_PER_CONTRACT
        for code, user, order in zip(
            codes, users[start : start + LEARNERS_PER_CONTRACT], orders[start:], strict=False
        ):
            redemptions.append(
                DiscountRedemption(
                    redeemed_discount_id=code,
                    redeemed_by=user,
                    redeemed_order=order,
                    is_one_time=True,
                )
            )
            enrollments.append(CourseRunEnrollment(user=user, run_id=product["course_run_id"]))
            memberships.append(
                ContractMembership(user=user, contract_id=contract_id, source="code")
            )
    DiscountRedemption.objects.bulk_create(redemptions, batch_size=BATCH)
    CourseRunEnrollment.objects.bulk_create(enrollments, batch_size=BATCH)
    ContractMembership.objects.bulk_create(memberships, batch_size=BATCH)
    # Drift, as hand edits would make it.
    Product.objects.filter(pk=products[contract_ids[1]]["pk"]).update(price="5.00")
    doomed = Discount.objects.filter(
        product_links__product_id=products[contract_ids[2]]["pk"]
    ).order_by("-pk")[:10]
    Discount.objects.filter(pk__in=doomed.values("pk")).update(is_active=False)
    CourseRun.objects.filter(pk=products[contract_ids[3]]["course_run_id"]).update(
        edx_status="failed", edx_error="bench"
    )
    built_learners = time.perf_counter() - started

    codes = Discount.objects.count()
    learners = ContractMembership.objects.count()
    print(
        f"Estate: {len(contract_ids)} contracts, {codes:,} codes ({built_codes:.1f} s), "
        f"{learners:,} learners with orders, redemptions, enrollments, memberships "
        f"({built_learners:.1f} s).",
        file=sys.stderr,
    )
    print("Measuring:", file=sys.stderr)
    service_s, service_q, result = measure("contracts_check() over every contract", contracts_check)
    command_s, command_q, status = measure("b2b_check --format json", check_command)

    print()
    print(f"{'step':<44} {'seconds':>8} {'queries':>8}")
    print(f"{'contracts_check(), 1 contract, no learner':<44} {'':>8} {small_queries:>8}")
    print(f"{'contracts_check(), whole estate':<44} {service_s:>8.2f} {service_q:>8}")
    print(f"{'b2b_check --format json, whole estate':<44} {command_s:>8.2f} {command_q:>8}")
    print()
    print(
        f"estate: {len(contract_ids)} contracts, {codes:,} codes, {learners:,} learners; "
        f"findings: {len(result.findings)} ({result.errors} errors); command exit {status}"
    )
    kinds = sorted(f.kind for f in result.findings)
    print(f"kinds found: {', '.join(kinds)} (drift made: codes-count, product-price, run-edx)")
    checks = [
        (f"b2b_check: {command_s:.2f} s (target < 30 s)", command_s < 30),
        (
            f"queries: {service_q} over the estate = {small_queries} over one small contract "
            "(target: equal)",
            service_q == small_queries,
        ),
        (f"exit status {status} with errors found (target 3)", status == 3),
    ]
    for text, ok in checks:
        print(f"[{'ok' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
