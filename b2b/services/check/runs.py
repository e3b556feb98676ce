"""Findings on contract runs and their products: a product per run at the contract price
(SPEC §4.1), products of removed runs (SPEC §2 ``remove``), run dates, source runs and Open
edX status (SPEC §8)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Exists, OuterRef

from b2b.models import ContractCourseware, ContractPage
from b2b.services.check.findings import (
    ERROR,
    NOTE,
    RUN_TAG,
    WARNING,
    Finding,
    ProductRow,
    Repair,
    RunRow,
    codes_label,
    fix_command,
    money_text,
    when_text,
)
from b2b.services.courseware import courseware_course_ids
from courses.models import CourseRun, EdxStatus
from ecommerce.models import Product


def runs_read(ids: list[int]) -> list[RunRow]:
    """The runs of the contracts, with whether their course has a source run, by ID."""
    has_source = Exists(
        CourseRun.objects.filter(course_id=OuterRef("course_id"), is_source_run=True)
    )
    return list(
        CourseRun.objects.filter(b2b_contract_id__in=ids)
        .annotate(has_source=has_source)
        .values(
            "pk",
            "courseware_id",
            "b2b_contract_id",
            "course__readable_id",
            "edx_source_key",
            "edx_status",
            "edx_error",
            "edx_last_attempt_on",
            "updated_on",
            "start_date",
            "end_date",
            "has_source",
        )
        .order_by("pk")
    )


def products_read(ids: list[int]) -> dict[int, ProductRow]:
    """The active product of each contract run, by run ID."""
    return {
        row["course_run_id"]: row
        for row in Product.objects.filter(course_run__b2b_contract_id__in=ids, is_active=True)
        .values("pk", "course_run_id", "price")
        .order_by()
    }


def products_findings(
    by_id: dict[int, ContractPage], runs: list[RunRow], products: dict[int, ProductRow]
) -> list[Finding]:
    """Each contract run has one active product at the contract price (SPEC §4.1)."""
    findings = []
    for run in runs:
        contract = by_id[run["b2b_contract_id"]]
        product = products.get(run["pk"])
        if product is None:
            findings.append(
                Finding(
                    contract.pk,
                    "product-missing",
                    ERROR,
                    run["courseware_id"],
                    "one active product",
                    "no active product",
                    "reactivate the run's latest product in the Django Admin (Products), then "
                    f"{fix_command(contract.pk)}",
                )
            )
        elif product["price"] != contract.price:
            findings.append(
                Finding(
                    contract.pk,
                    "product-price",
                    ERROR,
                    f"product {product['pk']} ({run['courseware_id']})",
                    money_text(contract.price),
                    money_text(product["price"]),
                    fix_command(contract.pk),
                    Repair("codes", contract.pk, contract.pk, codes_label(contract.pk)),
                )
            )
    return findings


def removed_run_findings(ids: set[int], *, unscoped: bool) -> list[Finding]:
    """Active products of runs that were on a contract and no longer are (SPEC §2 remove).

    The contract is read from the run's tag (``YYYY_C<id>``); a run assigned from the catalog
    has no such tag and is reported without a contract when every contract is checked.
    """
    rows = (
        Product.objects.filter(
            is_active=True, course_run__is_b2b=True, course_run__b2b_contract__isnull=True
        )
        .values("pk", "course_run__courseware_id", "course_run__run_tag", "course_run__course_id")
        .order_by("pk")
    )
    wanted = []
    for row in rows:
        match = RUN_TAG.match(row["course_run__run_tag"])
        contract_id = int(match.group(1)) if match else None
        if contract_id in ids or (unscoped and contract_id is None):
            wanted.append((row, contract_id))
    listed = _courses_listed({contract_id for _, contract_id in wanted if contract_id is not None})
    findings = []
    for row, contract_id in wanted:
        if contract_id is not None and row["course_run__course_id"] in listed.get(contract_id, ()):
            # The course is still on the contract: the run left it by some other way than a
            # removal. Switching its codes off would strand the learners who hold them, so a
            # person decides (SPEC §2: only `remove` takes a run's codes out of use).
            findings.append(
                Finding(
                    contract_id,
                    "product-removed-run",
                    ERROR,
                    f"product {row['pk']} ({row['course_run__courseware_id']})",
                    "a run on the contract for each of its courses",
                    "the run is off the contract, its course still on it",
                    f"b2b_courseware add {contract_id} {row['course_run__courseware_id']} puts the "
                    f"run back; b2b_courseware remove {contract_id} <course> takes the course off",
                )
            )
            continue
        fix = (
            fix_command(contract_id)
            if contract_id is not None
            else "b2b_check --fix (deactivates it with its usable codes)"
        )
        findings.append(
            Finding(
                contract_id,
                "product-removed-run",
                ERROR,
                f"product {row['pk']} ({row['course_run__courseware_id']})",
                "no active product for a run off the contract",
                "the product is on sale",
                fix,
                Repair(
                    "deactivate",
                    row["pk"],
                    contract_id,
                    f"deactivate product {row['pk']} ({row['course_run__courseware_id']}, off "
                    "its contract) and its usable codes",
                ),
            )
        )
    return findings


def _courses_listed(contract_ids: set[int]) -> dict[int, set[int]]:
    """The courses each contract lists, directly or through a program (course IDs); one query,
    plus one per listed program."""
    records: dict[int, list[ContractCourseware]] = defaultdict(list)
    if contract_ids:
        for record in ContractCourseware.objects.filter(
            contract_id__in=contract_ids
        ).select_related("program"):
            records[record.contract_id].append(record)
    return {contract_id: courseware_course_ids(rs) for contract_id, rs in records.items()}


def runs_findings(
    by_id: dict[int, ContractPage], runs: list[RunRow], stale: dt.datetime
) -> list[Finding]:
    """Each contract run: its course has a source run, its dates are the contract's, and Open edX
    has it (SPEC §8: pending for under an hour, never failed)."""
    findings = []
    for run in runs:
        contract = by_id[run["b2b_contract_id"]]
        key = run["courseware_id"]
        created_here = bool(run["edx_source_key"])
        if not run["has_source"]:
            findings.append(
                Finding(
                    contract.pk,
                    "run-source",
                    WARNING,
                    key,
                    f"a source run of {run['course__readable_id']}",
                    "no source run",
                    "flag the course's source run is_source_run in the Django Admin, or "
                    "load_catalog",
                )
            )
        if created_here:
            # Runs created for the contract start and end with it (SPEC §3); a run assigned from
            # the catalog keeps its own dates. Edited on purpose happens: a note.
            expected_start = contract.starts_at
            starts = expected_start is None or run["start_date"] == expected_start
            ends = run["end_date"] == contract.ends_at
            if not (starts and ends):
                findings.append(
                    Finding(
                        contract.pk,
                        "run-dates",
                        NOTE,
                        key,
                        f"{when_text(expected_start) if expected_start else 'any start'} to "
                        f"{when_text(contract.ends_at)}",
                        f"{when_text(run['start_date'])} to {when_text(run['end_date'])}",
                        "none if edited on purpose; else set the run's dates in the Django Admin",
                    )
                )
            status = run["edx_status"]
            attempted = run["edx_last_attempt_on"] or run["updated_on"]
            stuck = status == EdxStatus.PENDING and attempted < stale
            if status == EdxStatus.FAILED or stuck:
                found = (
                    f"failed: {run['edx_error'] or 'no error recorded'}"
                    if status == EdxStatus.FAILED
                    else f"pending since {when_text(attempted)}"
                )
                findings.append(
                    Finding(
                        contract.pk,
                        "run-edx",
                        ERROR,
                        key,
                        "created in Open edX (or pending for less than an hour)",
                        found,
                        f"{fix_command(contract.pk)} (or b2b_courseware sync-edx {contract.pk})",
                        Repair(
                            "edx", run["pk"], contract.pk, f"re-queue the Open edX sync of {key}"
                        ),
                    )
                )
    return findings
