"""Contract runs: their keys (SPEC §1), products, schedule, and creating, re-attaching or assigning
the run of a course on a contract (SPEC §2 ``add``)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from opaque_keys.edx.locator import CourseLocator

from b2b.exceptions import ContractEnded, CoursewareNotFound, NoSourceRun, RunTaken
from b2b.models import ContractCourseware, ContractPage
from b2b.services.courseware.results import CourseOutcome, Outcome
from courses.keys import parse_run_key
from courses.models import Course, CourseRun, Program
from ecommerce.services import product_for_run_ensure
from openedx.api import course_run_edx_queue


def contract_run_key(contract: ContractPage, source: CourseRun, *, year: int | None = None) -> str:
    """``course-v1:UAI_{org_key}+{source run's number}+{YYYY}_C{contract id}`` (SPEC §1).

    ``YYYY`` is the current UTC year unless ``year`` is given. Built with ``CourseLocator``.
    """
    number = parse_run_key(source.courseware_id).course
    year = year or timezone.now().astimezone(dt.UTC).year
    locator = CourseLocator(
        f"UAI_{contract.organization.org_key}", number, f"{year}_C{contract.pk}"
    )
    return str(locator)


def product_description(contract: ContractPage, run: CourseRun) -> str:
    """What the CSV's Product column says: organization, course title, run key."""
    return f"{contract.organization.name} - {run.course.title} - {run.courseware_id}"


def _run_schedule(contract: ContractPage) -> dict[str, dt.datetime | None]:
    """The contract's dates for a new run; open-ended contracts start now (SPEC §3)."""
    start = contract.starts_at or timezone.now().replace(microsecond=0)
    end = contract.ends_at
    return {"start_date": start, "end_date": end, "enrollment_start": start, "enrollment_end": end}


def _removed_run(contract: ContractPage, course: Course) -> CourseRun | None:
    """A run created for this contract earlier and since removed from it (re-attached on re-add)."""
    org = f"UAI_{contract.organization.org_key}"
    suffix = f"_C{contract.pk}"
    candidates = CourseRun.objects.filter(course=course, is_b2b=True, b2b_contract__isnull=True)
    for run in candidates.order_by("-pk"):
        locator = parse_run_key(run.courseware_id)
        if locator.org == org and (locator.run or "").endswith(suffix):
            return run
    return None


def source_run_get(course: Course) -> CourseRun:
    """The course's source run (SPEC §1): ``NoSourceRun`` when it has none."""
    source = course.runs.filter(is_source_run=True).first()
    if source is None:
        raise NoSourceRun(
            f"Course {course.readable_id} has no source run, so no contract run can be made from "
            "it: create its source run in edX (run tag SOURCE) and flag it is_source_run in the "
            "Django Admin (or load it with load_catalog), then add the course again. "
            "Nothing was created."
        )
    return source


def contract_not_ended_check(contract: ContractPage) -> None:
    """Runs of a contract that has ended would close before they open: refuse to make them."""
    ends = contract.ends_at
    if ends is not None and ends < timezone.now():
        raise ContractEnded(
            f"Contract {contract.pk} ended on {ends.date().isoformat()}, so its runs "
            "would close before they open: extend it first (b2b_contract modify "
            f"{contract.pk} --end YYYY-MM-DD), or add with --no-create-runs to record the "
            "courseware only."
        )


def course_attach(contract: ContractPage, course: Course) -> CourseOutcome:
    """Give the contract a run of ``course`` (new, or the one removed earlier) and its product."""
    existing = contract.course_runs.filter(course=course).order_by("pk").first()
    if existing is None:
        contract_not_ended_check(contract)
    if existing is not None:
        return CourseOutcome(
            course.readable_id, "skipped", existing.courseware_id, "the contract already has a run"
        )
    source = source_run_get(course)
    run = _removed_run(contract, course)
    schedule = _run_schedule(contract)
    if run is not None:
        run.b2b_contract = contract
        run.enrollment_end = schedule["enrollment_end"]
        run.save(update_fields=["b2b_contract", "enrollment_end", "updated_on"])
        outcome: Outcome = "reattached"
    else:
        key = contract_run_key(contract, source)
        taken = CourseRun.objects.filter(courseware_id=key).first()
        if taken is not None:
            raise RunTaken(
                f"Course run {key} already exists (for course {taken.course.readable_id}): two "
                "courses with the same number cannot both be on this contract this year."
            )
        run = CourseRun.objects.create(
            course=course,
            courseware_id=key,
            run_tag=parse_run_key(key).run or "",
            title=course.title,
            live=True,
            is_self_paced=True,
            is_source_run=False,
            is_b2b=True,
            b2b_contract=contract,
            **schedule,
        )
        course_run_edx_queue(run)
        outcome = "created"
    product_for_run_ensure(
        run, price=contract.price, description=product_description(contract, run)
    )
    return CourseOutcome(course.readable_id, outcome, run.courseware_id)


def run_assign(contract: ContractPage, run: CourseRun) -> CourseOutcome:
    """Put an existing run on the contract (``skipped`` when it is there already); ``RunTaken``
    for a run of another contract or a source run, ``ContractEnded`` for an ended contract."""
    if run.b2b_contract_id == contract.pk:
        return CourseOutcome(
            run.course.readable_id, "skipped", run.courseware_id, "already on the contract"
        )
    contract_not_ended_check(contract)
    other = run.b2b_contract
    if other is not None:
        raise RunTaken(
            f"Course run {run.courseware_id} is already assigned to contract {other.pk} "
            f"({other.name!r}): remove it there first (b2b_courseware remove {other.pk} "
            f"{run.courseware_id}) or add the course to create a run for this contract."
        )
    if run.is_source_run:
        raise RunTaken(
            f"Course run {run.courseware_id} is the course's source run, which contract runs are "
            f"cloned from: add the course ({run.course.readable_id}) instead."
        )
    run.b2b_contract = contract
    run.is_b2b = True
    run.save(update_fields=["b2b_contract", "is_b2b", "updated_on"])
    product_for_run_ensure(
        run, price=contract.price, description=product_description(contract, run)
    )
    return CourseOutcome(run.course.readable_id, "assigned", run.courseware_id)


def courseware_record(
    contract: ContractPage, *, course: Course | None = None, program: Program | None = None
) -> bool:
    """Record the courseware (a course or a program) on the contract, once; True when it is new
    there."""
    _, created = ContractCourseware.objects.get_or_create(
        contract=contract, course=course, program=program
    )
    return created


def course_get(readable_id: str) -> Course:
    """The course with this readable ID: ``CoursewareNotFound`` otherwise."""
    course = Course.objects.filter(readable_id=readable_id).first()
    if course is None:
        raise CoursewareNotFound(
            f"No course {readable_id} in the catalog: check the readable ID, or load the catalog "
            "with `manage.py load_catalog`."
        )
    return course


def run_get(courseware_id: str) -> CourseRun:
    """The course run with this courseware ID: ``CoursewareNotFound`` otherwise."""
    run = (
        CourseRun.objects.select_related("course", "b2b_contract")
        .filter(courseware_id=courseware_id)
        .first()
    )
    if run is None:
        raise CoursewareNotFound(
            f"No course run {courseware_id} in the catalog: check the courseware ID "
            "(`manage.py b2b_list courseware --contract ID` lists a contract's runs)."
        )
    return run
