"""Adding courses, course runs and programs to a contract (SPEC §2 ``add``)."""

from __future__ import annotations

import logging

from django.db import transaction

from b2b.services.codes import (
    CodesProgress,
)
from b2b.services.contracts import contract_get
from b2b.services.courseware.dry_run import courseware_dry_run
from b2b.services.courseware.results import (
    CourseOutcome,
    CoursewareChangeResult,
    codes_ask,
    courseware_audit,
    courseware_message,
)
from b2b.services.courseware.runs import (
    contract_not_ended_check,
    course_attach,
    course_get,
    courseware_record,
    run_assign,
    run_get,
    source_run_get,
)
from courses.keys import CoursewareId, parse_courseware_id
from courses.services import program_courses, program_get
from main.exceptions import DomainError
from openedx.api import edx_configured

log = logging.getLogger(__name__)


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
        return courseware_dry_run(
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
            run = run_get(parsed.text)
            item = run_assign(contract, run)
            recorded = courseware_record(contract, course=run.course)
        else:
            course = course_get(parsed.text)
            if create_runs:
                source_run_get(course)
            recorded = courseware_record(contract, course=course)
            if create_runs:
                item = course_attach(contract, course)
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
            result.codes = codes_ask(contract, progress)
            courseware_audit(result)
    result.message = courseware_message(result)
    return result


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
            contract_not_ended_check(contract)
        recorded = courseware_record(contract, program=program)
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
                result.items.append(course_attach(contract, course))
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
            result.codes = codes_ask(contract, progress)
            courseware_audit(result)
    result.message = courseware_message(result, recorded=recorded)
    return result
