"""Courseware on contracts: add and remove courses, course runs and programs (SPEC §2).

Adding a course creates the contract run from the course's source run, with key
``course-v1:UAI_{org_key}+{number}+{YYYY}_C{contract id}``, the contract's dates, live and
self-paced, and one product at the contract price; then the code adjustment is queued on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from django.db import transaction
from django.utils import timezone
from opaque_keys.edx.locator import CourseLocator

from b2b.exceptions import ContractEnded, CoursewareNotFound, NoSourceRun, RunTaken
from b2b.models import ContractCourseware, ContractPage
from b2b.services.audit import audit_record
from b2b.services.codes import (
    CodesAdjustment,
    CodesProgress,
    CodesReport,
    ProductCodes,
    codes_adjust_queue,
    codes_deactivate_for_products,
    codes_plan,
    codes_usable_by_product,
)
from b2b.services.contracts import contract_get
from courses.keys import CoursewareId, parse_courseware_id, parse_run_key
from courses.models import Course, CourseRun, Program
from courses.services import program_courses, program_get
from ecommerce.models import Product
from ecommerce.services import product_for_run_ensure, products_deactivate
from main.exceptions import DomainError
from openedx.api import course_run_edx_queue, edx_configured

log = logging.getLogger(__name__)

Outcome = Literal[
    "created", "reattached", "assigned", "recorded", "skipped", "failed", "removed", "kept"
]


@dataclass
class CourseOutcome:
    """What happened to one course (or run) of the request."""

    course: str
    outcome: Outcome
    run: str | None = None
    detail: str = ""


@dataclass
class CoursewareChangeResult:
    """The result of ``courseware_add`` / ``courseware_remove``; ``items`` has one entry per
    course."""

    contract: ContractPage
    readable_id: str
    kind: str
    action: Literal["add", "remove"]
    changed: bool = False
    message: str = ""
    items: list[CourseOutcome] = field(default_factory=list)
    edx_configured: bool = False
    dry_run: bool = False
    #: With ``dry_run``: what would happen to the contract's products and codes (None when
    #: nothing would change).
    plan: CodesReport | None = None
    #: The code adjustment the change asked for (None when nothing changed, or a dry run): its
    #: ``report`` says what it did when it ran in this process (no broker).
    codes: CodesAdjustment | None = None

    @property
    def failed(self) -> list[CourseOutcome]:
        return [item for item in self.items if item.outcome == "failed"]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)


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


def _source_run(course: Course) -> CourseRun:
    source = course.runs.filter(is_source_run=True).first()
    if source is None:
        raise NoSourceRun(
            f"Course {course.readable_id} has no source run, so no contract run can be made from "
            "it: create its source run in edX (run tag SOURCE) and flag it is_source_run in the "
            "Django Admin (or load it with load_catalog), then add the course again. "
            "Nothing was created."
        )
    return source


def _check_not_ended(contract: ContractPage) -> None:
    """Runs of a contract that has ended would close before they open: refuse to make them."""
    ends = contract.ends_at
    if ends is not None and ends < timezone.now():
        raise ContractEnded(
            f"Contract {contract.pk} ended on {ends.date().isoformat()}, so its runs "
            "would close before they open: extend it first (b2b_contract modify "
            f"{contract.pk} --end YYYY-MM-DD), or add with --no-create-runs to record the "
            "courseware only."
        )


def _attach_course(contract: ContractPage, course: Course) -> CourseOutcome:
    """Give the contract a run of ``course`` (new, or the one removed earlier) and its product."""
    existing = contract.course_runs.filter(course=course).order_by("pk").first()
    if existing is None:
        _check_not_ended(contract)
    if existing is not None:
        return CourseOutcome(
            course.readable_id, "skipped", existing.courseware_id, "the contract already has a run"
        )
    source = _source_run(course)
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


def _assign_run(contract: ContractPage, run: CourseRun) -> CourseOutcome:
    if run.b2b_contract_id == contract.pk:
        return CourseOutcome(
            run.course.readable_id, "skipped", run.courseware_id, "already on the contract"
        )
    _check_not_ended(contract)
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


def _record(
    contract: ContractPage, *, course: Course | None = None, program: Program | None = None
) -> bool:
    _, created = ContractCourseware.objects.get_or_create(
        contract=contract, course=course, program=program
    )
    return created


def _course_get(readable_id: str) -> Course:
    course = Course.objects.filter(readable_id=readable_id).first()
    if course is None:
        raise CoursewareNotFound(
            f"No course {readable_id} in the catalog: check the readable ID, or load the catalog "
            "with `manage.py load_catalog`."
        )
    return course


def _run_get(courseware_id: str) -> CourseRun:
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


def courseware_add(
    contract_id: int,
    readable_id: str,
    *,
    create_runs: bool = True,
    dry_run: bool = False,
    progress: CodesProgress | None = None,
) -> CoursewareChangeResult:
    """Put a course, a course run or a program on a contract (SPEC §2 ``add``).

    - course: record it and create its contract run and product (or re-attach the run removed
      earlier). No source run: ``NoSourceRun``, nothing created.
    - course run: assign it (``RunTaken`` if another contract has it, or it is a source run).
    - program: record it and give the contract a run of every course of its requirements tree,
      nested programs included; each course in its own transaction; failures are reported in
      ``items`` (outcome ``failed``) while the others stay.
    Adding what is already there changes nothing (``changed`` false). ``create_runs=False``
    records the courseware only. The code adjustment is asked for on commit when anything changed
    (``codes``; ``progress`` receives its plan and counts if it runs in this process). With
    ``dry_run`` nothing is written or queued and ``plan`` says what would happen.
    """
    if dry_run:
        return _dry_run(
            contract_id, lambda: courseware_add(contract_id, readable_id, create_runs=create_runs)
        )
    parsed = parse_courseware_id(readable_id)
    edx = edx_configured()
    if parsed.kind == "program":
        return _add_program(
            contract_id, parsed, create_runs=create_runs, edx=edx, progress=progress
        )
    with transaction.atomic():
        contract = contract_get(contract_id, for_update=True)
        result = CoursewareChangeResult(
            contract, parsed.text, parsed.kind, "add", edx_configured=edx
        )
        if parsed.kind == "run":
            run = _run_get(parsed.text)
            item = _assign_run(contract, run)
            recorded = _record(contract, course=run.course)
        else:
            course = _course_get(parsed.text)
            if create_runs:
                _source_run(course)
            recorded = _record(contract, course=course)
            if create_runs:
                item = _attach_course(contract, course)
            else:
                item = CourseOutcome(
                    course.readable_id,
                    "recorded" if recorded else "skipped",
                    None,
                    "recorded without runs" if recorded else "already on the contract",
                )
        result.items.append(item)
        result.changed = recorded or item.outcome not in ("skipped",)
        if result.changed:
            result.codes = _codes_ask(contract, progress)
            _audit(result)
    result.message = _add_message(result)
    return result


def _codes_ask(contract: ContractPage, progress: CodesProgress | None) -> CodesAdjustment:
    """Ask for the code adjustment once for the change (``codes_adjust_queue``), reporting to
    ``progress`` if it runs in this process."""
    adjustment = codes_adjust_queue(contract)
    adjustment.progress = progress
    return adjustment


def _add_program(
    contract_id: int,
    parsed: CoursewareId,
    *,
    create_runs: bool,
    edx: bool,
    progress: CodesProgress | None,
) -> CoursewareChangeResult:
    with transaction.atomic():
        contract = contract_get(contract_id, for_update=True)
        program = program_get(parsed.text)
        if create_runs:
            _check_not_ended(contract)
        recorded = _record(contract, program=program)
    result = CoursewareChangeResult(contract, parsed.text, "program", "add", edx_configured=edx)
    courses = program_courses(program)
    for course in courses:
        if not create_runs:
            result.items.append(
                CourseOutcome(course.readable_id, "skipped", None, "--no-create-runs")
            )
            continue
        try:
            with transaction.atomic():
                contract = contract_get(contract_id, for_update=True)
                result.items.append(_attach_course(contract, course))
        except DomainError as exc:
            log.warning(
                "Contract %s: course %s of %s failed: %s",
                contract_id,
                course.readable_id,
                program.readable_id,
                exc,
            )
            result.items.append(CourseOutcome(course.readable_id, "failed", None, exc.message))
    result.changed = recorded or any(i.outcome in ("created", "reattached") for i in result.items)
    if result.changed:
        with transaction.atomic():
            result.codes = _codes_ask(contract, progress)
            _audit(result)
    result.message = _add_message(result, recorded=recorded)
    return result


def _audit(result: CoursewareChangeResult, *, codes_deactivated: int = 0) -> None:
    """The audit entry of a courseware change: what went on or off, its runs, codes deactivated."""
    adding = result.action == "add"
    moved = ("created", "reattached", "assigned") if adding else ("removed",)
    changes: dict[str, object] = {
        "courseware": {
            "before": None if adding else result.readable_id,
            "after": result.readable_id if adding else None,
        },
        "runs " + ("added" if adding else "removed"): [
            item.run for item in result.items if item.outcome in moved
        ],
    }
    if result.failed:
        changes["courses failed"] = [item.course for item in result.failed]
    if not adding:
        changes["codes deactivated"] = codes_deactivated
    audit_record(result.contract, action=f"courseware.{result.action}", changes=changes)


def _add_message(result: CoursewareChangeResult, *, recorded: bool = False) -> str:
    if not result.changed:
        return f"{result.readable_id} is already on contract {result.contract.pk}: nothing to do."
    if result.kind == "program":
        return (
            f"Program {result.readable_id} {'added to' if recorded else 'is on'} contract "
            f"{result.contract.pk}: {result.count('created')} runs created, "
            f"{result.count('reattached')} re-attached, {result.count('skipped')} skipped, "
            f"{result.count('failed')} failed."
        )
    item = result.items[0]
    verbs = {
        "created": f"created run {item.run}",
        "reattached": f"re-attached run {item.run}",
        "assigned": f"assigned run {item.run}",
        "recorded": "recorded without runs",
        "skipped": f"recorded; the contract already had run {item.run}",
    }
    return f"Added {result.readable_id} to contract {result.contract.pk}: {verbs[item.outcome]}."


# -- remove --------------------------------------------------------------------------------------


def _detach_runs(runs: list[CourseRun]) -> int:
    """Runs leave their contract: closed for enrollment, products off sale, usable codes
    deactivated. Runs, enrollments and redemptions stay; ``is_b2b`` stays set (SPEC §2).
    Returns how many codes were deactivated."""
    if not runs:
        return 0
    now = timezone.now()
    for run in runs:
        run.b2b_contract = None
        if run.enrollment_end is None or run.enrollment_end > now:
            run.enrollment_end = now
        run.save(update_fields=["b2b_contract", "enrollment_end", "updated_on"])
    product_ids = products_deactivate(runs)
    return codes_deactivate_for_products(product_ids)


def _course_through_programs(contract: ContractPage, course: Course) -> str | None:
    """Why a course not recorded directly still has a run on the contract (its programs)."""
    runs = list(contract.course_runs.filter(course=course).values_list("courseware_id", flat=True))
    if not runs:
        return None
    programs = [
        record.program.readable_id
        for record in contract.courseware.filter(program__isnull=False).select_related("program")
        if any(c.pk == course.pk for c in program_courses(record.program))
    ]
    through = f"through {', '.join(programs)}" if programs else "as an assigned run"
    return (
        f"{course.readable_id} is on contract {contract.pk} {through}, not on its own: remove "
        f"{'the program' if programs else 'the run'}, or the run itself ({', '.join(runs)})."
    )


def courseware_course_ids(records: Iterable[ContractCourseware]) -> set[int]:
    """Course IDs these courseware records put on their contract, directly or through their
    programs' requirements trees (``program`` selected with them; one query per program)."""
    ids: set[int] = set()
    for record in records:
        if record.course_id:
            ids.add(record.course_id)
        elif record.program is not None:
            ids.update(course.pk for course in program_courses(record.program))
    return ids


def _courses_still_needed(contract: ContractPage, *, excluding: ContractCourseware) -> set[int]:
    """Course IDs the contract still has directly or through another program."""
    return courseware_course_ids(
        contract.courseware.exclude(pk=excluding.pk).select_related("program")
    )


def courseware_remove(
    contract_id: int,
    readable_id: str,
    *,
    dry_run: bool = False,
    progress: CodesProgress | None = None,
) -> CoursewareChangeResult:
    """Take a course, a course run or a program off a contract (SPEC §2 ``remove``).

    The courseware record goes; the runs stay but leave the contract (closed for enrollment,
    still out of the public catalog), their products are deactivated and their usable codes
    deactivated; enrollments and redemptions are never touched. A program's runs stay for the
    courses the contract still has directly or through another program. Removing what is not
    there changes nothing (``changed`` false). The code adjustment is asked for on commit
    (``codes``, reporting to ``progress`` as for ``courseware_add``). With ``dry_run`` nothing
    is written or queued and ``plan`` says what would happen.
    """
    if dry_run:
        return _dry_run(contract_id, lambda: courseware_remove(contract_id, readable_id))
    parsed = parse_courseware_id(readable_id)
    with transaction.atomic():
        contract = contract_get(contract_id, for_update=True)
        result = CoursewareChangeResult(
            contract, parsed.text, parsed.kind, "remove", edx_configured=edx_configured()
        )
        if parsed.kind == "run":
            run = _run_get(parsed.text)
            if run.b2b_contract_id != contract.pk:
                result.message = (
                    f"Course run {run.courseware_id} is not on contract {contract.pk}: "
                    "nothing to do."
                )
                return result
            deactivated = _detach_runs([run])
            result.items.append(CourseOutcome(run.course.readable_id, "removed", run.courseware_id))
            if not contract.course_runs.filter(course=run.course).exists():
                contract.courseware.filter(course=run.course).delete()
        else:
            course: Course | None = None
            if parsed.kind == "course":
                course = _course_get(parsed.text)
                record = contract.courseware.filter(course=course).first()
                courses = [course]
            else:
                program = program_get(parsed.text)
                record = contract.courseware.filter(program=program).first()
                courses = program_courses(program)
            if record is None:
                result.message = f"{parsed.text} is not on contract {contract.pk}: nothing to do."
                if course is not None:
                    result.message = _course_through_programs(contract, course) or result.message
                return result
            needed = _courses_still_needed(contract, excluding=record)
            record.delete()
            runs = list(contract.course_runs.filter(course__in=courses).select_related("course"))
            leaving = [run for run in runs if run.course_id not in needed]
            deactivated = _detach_runs(leaving)
            for run in runs:
                outcome: Outcome = "removed" if run in leaving else "kept"
                detail = (
                    ""
                    if outcome == "removed"
                    else "still on the contract directly or through another program"
                )
                result.items.append(
                    CourseOutcome(run.course.readable_id, outcome, run.courseware_id, detail)
                )
        result.changed = True
        result.codes = _codes_ask(contract, progress)
        _audit(result, codes_deactivated=deactivated)
    kept, removed = result.count("kept"), result.count("removed")
    result.message = (
        f"Removed {result.readable_id} from contract {contract.pk}: {removed} "
        f"run{'' if removed == 1 else 's'} left the contract"
        + (f", {kept} kept (still needed)" if kept else "")
        + "."
    )
    return result


# -- dry runs ------------------------------------------------------------------------------------


def _dry_run(
    contract_id: int, change: Callable[[], CoursewareChangeResult]
) -> CoursewareChangeResult:
    """Make the change in a transaction, plan the code adjustment it would queue, roll back.

    The plan lists every product the contract has before or after: products taken off sale with
    their usable codes deactivated (SPEC §2 ``remove``), new products (``product_id`` None), and
    what ``codes_plan`` says for the rest. Nothing is written and nothing is queued.
    """
    with transaction.atomic():
        contract = contract_get(contract_id)
        before = {
            p.pk: p
            for p in Product.objects.filter(course_run__b2b_contract=contract, is_active=True)
        }
        usable_before = codes_usable_by_product(list(before))
        result = change()
        plan = None
        if result.changed:
            plan = codes_plan(contract_get(contract_id))
            for item in plan.products:
                if item.product_id not in before:
                    item.product_id, item.new_product = None, True
            still = {p.product_id for p in plan.products}
            for pk, product in before.items():
                if pk not in still:
                    plan.products.append(
                        ProductCodes(
                            pk,
                            product.description,
                            price_before=product.price,
                            price_after=product.price,
                            deactivated=usable_before.get(pk, 0),
                            product_deactivated=True,
                        )
                    )
        transaction.set_rollback(True)
    result.dry_run, result.plan = True, plan
    result.message = f"Dry run, nothing changed. The real run would report: {result.message}"
    return result
