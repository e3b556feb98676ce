"""b2b_courseware add / remove and b2b_contract courseware (SPEC §2)."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from b2b.models import ContractCourseware
from b2b.services.courseware import courseware_add
from courses.models import CourseRun
from ecommerce.models import Discount, Product
from tests.b2b.helpers import codes_of, new_contract
from tests.factories import ContractRunFactory, CourseRunFactory, contract_program

pytestmark = pytest.mark.django_db
YEAR = timezone.now().astimezone(dt.UTC).year


@pytest.fixture
def capped(wagtail_site, catalog):
    return new_contract(
        "Capped",
        max_learners=3,
        enrollment_fixed_price="25",
        contract_start=dt.date(2096, 2, 1),
        contract_end=dt.date(2096, 6, 30),
    )


def test_add_course_creates_run_product_and_codes(capped, catalog, run_command):
    out = run_command("b2b_courseware", "add", str(capped.pk), "course-v1:MITxT+14.310x")
    key = f"course-v1:UAI_UX+14.310x+{YEAR}_C{capped.pk}"
    assert (
        out.stdout == f"Added course-v1:MITxT+14.310x to contract {capped.pk}: created run {key}.\n"
    )
    run = CourseRun.objects.get(courseware_id=key)
    utc = ZoneInfo("UTC")
    assert (
        run.course,
        run.run_tag,
        run.title,
        run.live,
        run.is_self_paced,
        run.is_source_run,
        run.is_b2b,
        run.b2b_contract,
        run.edx_status,
    ) == (
        catalog.data,
        f"{YEAR}_C{capped.pk}",
        catalog.data.title,
        True,
        True,
        False,
        True,
        capped,
        "not-configured",
    )
    assert run.start_date == dt.datetime(2096, 2, 1, 0, 0, 0, tzinfo=utc)
    assert run.enrollment_start == run.start_date
    assert run.end_date == dt.datetime(2096, 6, 30, 23, 59, 59, tzinfo=utc)
    assert run.enrollment_end == run.end_date
    product = Product.objects.get(course_run=run)
    assert (product.price, product.is_active, product.description) == (
        Decimal("25.00"),
        True,
        f"University X - Data Analysis for Social Scientists - {key}",
    )
    codes = codes_of(product)
    assert len(codes) == 3
    assert {
        (c.amount, c.discount_type, c.redemption_type, c.payment_type, c.is_bulk, c.is_active)
        for c in codes
    } == {(Decimal("25.00"), "fixed-price", "one-time", "sales", True, True)}
    assert {c.activation_date for c in codes} == {dt.datetime(2096, 2, 1, tzinfo=utc)}
    assert {c.expiration_date for c in codes} == {dt.datetime(2096, 6, 30, 23, 59, 59, tzinfo=utc)}
    assert list(
        ContractCourseware.objects.filter(contract=capped).values_list(
            "course__readable_id", flat=True
        )
    ) == ["course-v1:MITxT+14.310x"]


def test_open_ended_contract_runs_start_now_without_end(wagtail_site, catalog, run_command):
    contract = new_contract("Open")
    before = timezone.now().replace(microsecond=0)
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = contract.course_runs.get()
    assert before <= run.start_date <= timezone.now()
    assert run.enrollment_start == run.start_date
    assert (run.end_date, run.enrollment_end) == (None, None)


def test_adding_again_is_a_no_op_that_says_so(capped, catalog, run_command, unchanged):
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    with unchanged():
        out = run_command("b2b_courseware", "add", str(capped.pk), "course-v1:MITxT+14.310x")
    assert (
        out.stdout
        == f"course-v1:MITxT+14.310x is already on contract {capped.pk}: nothing to do.\n"
    )


def test_course_without_source_run_is_refused_and_creates_nothing(capped, run_command, unchanged):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "add", str(capped.pk), "course-v1:MITxT+JPAL102x")
    assert str(refusal.value) == (
        "Course course-v1:MITxT+JPAL102x has no source run, so no contract run can be made from "
        "it: create its source run in edX (run tag SOURCE) and flag it is_source_run in the "
        "Django Admin (or load it with load_catalog), then add the course again. Nothing was "
        "created."
    )


def test_no_create_runs_records_the_course_only(capped, run_command):
    out = run_command(
        "b2b_courseware", "add", str(capped.pk), "course-v1:MITxT+JPAL102x", "--no-create-runs"
    )
    assert (
        out.stdout
        == f"Added course-v1:MITxT+JPAL102x to contract {capped.pk}: recorded without runs.\n"
    )
    assert capped.course_runs.count() == 0
    assert ContractCourseware.objects.filter(
        contract=capped, course__readable_id="course-v1:MITxT+JPAL102x"
    ).exists()
    listing = json.loads(
        run_command(
            "b2b_list", "courseware", "--contract", str(capped.pk), "--format", "json"
        ).stdout
    )
    assert listing == [
        {
            "type": "course",
            "readable_id": "course-v1:MITxT+JPAL102x",
            "run": None,
            "title": "Randomized Evaluations",
            "start": None,
            "end": None,
            "product_id": None,
            "price": None,
            "codes": None,
            "edx_status": None,
        }
    ]


def test_add_program_walks_the_whole_tree(capped, run_command):
    out = run_command("b2b_courseware", "add", str(capped.pk), "program-v1:MITx+DEDP")
    assert out.stdout.splitlines()[-1] == (
        f"Program program-v1:MITx+DEDP added to contract {capped.pk}: 3 runs created, "
        "0 re-attached, 0 skipped, 0 failed."
    )
    assert sorted(capped.course_runs.values_list("courseware_id", flat=True)) == sorted(
        f"course-v1:UAI_UX+{n}+{YEAR}_C{capped.pk}" for n in ("14.310x", "14.100x", "14.73x")
    )
    assert Product.objects.filter(course_run__b2b_contract=capped, is_active=True).count() == 3
    assert (
        Discount.objects.filter(product_links__product__course_run__b2b_contract=capped).count()
        == 9
    )


def test_program_skips_courses_the_contract_has_and_reports_failures(capped, catalog, run_command):
    from tests.factories import program_with

    program_with("program-v1:MITx+MIXED", "Mixed", required=[catalog.data, catalog.no_source])
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    with pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_courseware", "add", str(capped.pk), "program-v1:MITx+MIXED", "--format", "json"
        )
    assert str(refusal.value) == (
        "1 of 2 courses failed; the others were added. Fix the failures listed above and run the "
        "command again."
    )
    # The program stays recorded; the run that existed is kept; nothing half-made for the failure.
    assert ContractCourseware.objects.filter(
        contract=capped, program__readable_id="program-v1:MITx+MIXED"
    ).exists()
    assert capped.course_runs.count() == 1


def test_program_result_as_json(capped, catalog, run_command):
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    out = run_command(
        "b2b_courseware", "add", str(capped.pk), "program-v1:MITx+DEDP", "--format", "json"
    )
    document = json.loads(out.stdout)
    assert document["items"] == [
        {
            "course": "course-v1:MITxT+14.310x",
            "outcome": "skipped",
            "run": f"course-v1:UAI_UX+14.310x+{YEAR}_C{capped.pk}",
            "detail": "the contract already has a run",
        },
        {
            "course": "course-v1:MITxT+14.100x",
            "outcome": "created",
            "run": f"course-v1:UAI_UX+14.100x+{YEAR}_C{capped.pk}",
            "detail": "",
        },
        {
            "course": "course-v1:MITxT+14.73x",
            "outcome": "created",
            "run": f"course-v1:UAI_UX+14.73x+{YEAR}_C{capped.pk}",
            "detail": "",
        },
    ]
    assert (document["type"], document["action"], document["changed"]) == ("program", "add", True)


def test_assign_existing_run(capped, catalog, run_command):
    run = CourseRunFactory(course=catalog.micro, run_tag="3T2025")
    out = run_command("b2b_courseware", "add", str(capped.pk), run.courseware_id)
    assert (
        out.stdout
        == f"Added {run.courseware_id} to contract {capped.pk}: assigned run {run.courseware_id}.\n"
    )
    run.refresh_from_db()
    assert (run.b2b_contract, run.is_b2b) == (capped, True)
    assert Product.objects.get(course_run=run).price == Decimal("25.00")


def test_run_of_another_contract_is_refused(
    capped, catalog, run_command, unchanged, django_capture_on_commit_callbacks
):
    other = new_contract("Other")
    run = CourseRunFactory(course=catalog.micro, run_tag="3T2025")
    with django_capture_on_commit_callbacks(execute=True):
        courseware_add(other.pk, run.courseware_id)
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "add", str(capped.pk), run.courseware_id)
    assert str(refusal.value) == (
        f"Course run {run.courseware_id} is already assigned to contract {other.pk} ('Other'): "
        f"remove it there first (b2b_courseware remove {other.pk} {run.courseware_id}) or add the "
        "course to create a run for this contract."
    )


@pytest.mark.parametrize(
    ("readable_id", "message"),
    [
        (
            "course-v1:MITxT+99.999x",
            "No course course-v1:MITxT+99.999x in the catalog: check the readable ID, or load the catalog with `manage.py load_catalog`.",
        ),
        (
            "course-v1:MITxT+14.310x+9T2099",
            "No course run course-v1:MITxT+14.310x+9T2099 in the catalog: check the courseware ID (`manage.py b2b_list courseware --contract ID` lists a contract's runs).",
        ),
        (
            "program-v1:MITx+NOPE",
            "No program 'program-v1:MITx+NOPE' in the catalog: check the readable ID (load the catalog with manage.py load_catalog).",
        ),
        (
            "program:MITx+DEDP",
            "'program:MITx+DEDP' is not a program ID: program readable IDs must begin with 'program-v1:', for example program-v1:MITx+DEDP.",
        ),
        (
            "MITx/14.310x/1T2020",
            "'MITx/14.310x/1T2020' is not a valid readable ID: expected a course (course-v1:ORG+NUMBER), a course run (course-v1:ORG+NUMBER+RUN) or a program (program-v1:ORG+NAME).",
        ),
        (
            "course-v1:bad id",
            "'course-v1:bad id' is not a valid readable ID: expected a course (course-v1:ORG+NUMBER), a course run (course-v1:ORG+NUMBER+RUN) or a program (program-v1:ORG+NAME).",
        ),
    ],
)
def test_unknown_or_malformed_ids_are_refused(capped, run_command, unchanged, readable_id, message):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "add", str(capped.pk), readable_id)
    assert str(refusal.value) == message


def test_unknown_contract_is_refused(catalog, wagtail_site, run_command, unchanged):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "add", "999", "course-v1:MITxT+14.310x")
    assert (
        str(refusal.value) == "No contract with ID 999: `manage.py b2b_list contracts` lists them."
    )


def test_contract_id_must_be_a_number(wagtail_site, run_command, unchanged):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_courseware", "add", "abc", "course-v1:MITxT+14.310x")
    assert (
        str(refusal.value)
        == "Error: argument contract_id: 'abc' is not an ID: give a whole number such as 12."
    )


def test_remove_course_detaches_run_and_deactivates_product_and_codes(capped, catalog, run_command):
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    run = capped.course_runs.get()
    product = Product.objects.get(course_run=run)
    out = run_command("b2b_courseware", "remove", str(capped.pk), "course-v1:MITxT+14.310x")
    assert (
        out.stdout.splitlines()[-1]
        == f"Removed course-v1:MITxT+14.310x from contract {capped.pk}: 1 run left the contract."
    )
    run.refresh_from_db()
    product.refresh_from_db()
    assert (run.b2b_contract, run.is_b2b, product.is_active) == (None, True, False)
    assert run.enrollment_end <= timezone.now()
    assert [c.is_active for c in codes_of(product)] == [False, False, False]
    assert not ContractCourseware.objects.filter(contract=capped).exists()
    assert CourseRun.objects.public().filter(pk=run.pk).count() == 0


def test_readding_a_removed_course_reattaches_its_run(capped, catalog, run_command):
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    run = capped.course_runs.get()
    product = Product.objects.get(course_run=run)
    run_command("b2b_courseware", "remove", str(capped.pk), "course-v1:MITxT+14.310x")
    out = run_command("b2b_courseware", "add", str(capped.pk), "course-v1:MITxT+14.310x")
    assert (
        out.stdout
        == f"Added course-v1:MITxT+14.310x to contract {capped.pk}: re-attached run {run.courseware_id}.\n"
    )
    assert list(capped.course_runs.all()) == [run]
    product.refresh_from_db()
    assert product.is_active
    # Three deactivated codes stay deactivated; three new usable ones are made.
    assert sorted(c.is_active for c in codes_of(product)) == [False, False, False, True, True, True]


def test_remove_program_keeps_runs_still_needed(capped, catalog, run_command):
    contract_program(capped, catalog.program)
    # 14.100x is on the contract on its own too (its run came with the program)
    ContractCourseware.objects.create(contract=capped, course=catalog.micro)
    out = run_command(
        "b2b_courseware", "remove", str(capped.pk), "program-v1:MITx+DEDP", "--format", "json"
    )
    outcomes = {i["course"]: i["outcome"] for i in json.loads(out.stdout)["items"]}
    assert outcomes == {
        "course-v1:MITxT+14.310x": "removed",
        "course-v1:MITxT+14.100x": "kept",
        "course-v1:MITxT+14.73x": "removed",
    }
    assert list(capped.course_runs.values_list("course__readable_id", flat=True)) == [
        "course-v1:MITxT+14.100x"
    ]


def test_remove_what_is_not_there_says_so(capped, run_command, unchanged):
    with unchanged():
        out = run_command("b2b_courseware", "remove", str(capped.pk), "course-v1:MITxT+14.310x")
    assert out.stdout == f"course-v1:MITxT+14.310x is not on contract {capped.pk}: nothing to do.\n"


def test_remove_a_run(capped, catalog, run_command):
    ContractRunFactory(b2b_contract=capped, course=catalog.data)
    run = capped.course_runs.get()
    run_command("b2b_courseware", "remove", str(capped.pk), run.courseware_id)
    run.refresh_from_db()
    assert run.b2b_contract is None
    assert not ContractCourseware.objects.filter(contract=capped).exists()


def test_old_spelling_b2b_contract_courseware(capped, run_command):
    run_command("b2b_contract", "courseware", str(capped.pk), "course-v1:MITxT+14.310x")
    assert capped.course_runs.count() == 1
    run_command("b2b_contract", "courseware", str(capped.pk), "course-v1:MITxT+14.310x", "--remove")
    assert capped.course_runs.count() == 0


def test_old_spelling_refuses_remove_with_no_create_runs(capped, run_command, unchanged):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_contract",
            "courseware",
            str(capped.pk),
            "course-v1:MITxT+14.310x",
            "--remove",
            "--no-create-runs",
        )
    assert str(refusal.value) == "--no-create-runs only applies when adding: drop it with --remove."
