"""Removing courseware from a contract (SPEC §2 ``remove``): runs detached, their products taken
off sale with their usable codes, redemptions and enrollments kept."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from b2b.models import ContractCourseware, ContractPage
from b2b.services.codes import (
    CodesProgress,
    codes_deactivate_for_products,
)
from b2b.services.contracts import contract_get
from b2b.services.courseware.dry_run import courseware_dry_run
from b2b.services.courseware.results import (
    CourseOutcome,
    CoursewareChangeResult,
    Outcome,
    codes_ask,
    courseware_audit,
)
from b2b.services.courseware.runs import course_get, run_get
from courses.keys import parse_courseware_id
from courses.models import Course, CourseRun
from courses.services import program_courses, program_get
from ecommerce.services import products_deactivate
from openedx.api import edx_configured


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
        return courseware_dry_run(contract_id, lambda: courseware_remove(contract_id, readable_id))
    parsed = parse_courseware_id(readable_id)
    with transaction.atomic():
        contract = contract_get(contract_id, for_update=True)
        result = CoursewareChangeResult(
            contract, parsed.text, parsed.kind, "remove", edx_configured=edx_configured()
        )
        if parsed.kind == "run":
            run = run_get(parsed.text)
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
                course = course_get(parsed.text)
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
        result.codes = codes_ask(contract, progress)
        courseware_audit(result, codes_deactivated=deactivated)
    kept, removed = result.count("kept"), result.count("removed")
    result.message = (
        f"Removed {result.readable_id} from contract {contract.pk}: {removed} "
        f"run{'' if removed == 1 else 's'} left the contract"
        + (f", {kept} kept (still needed)" if kept else "")
        + "."
    )
    return result
