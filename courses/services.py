"""Catalog services: loading a catalog file, walking a program's requirements tree."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from courses.exceptions import RunNotFound
from courses.keys import PROGRAM_ID_PATTERN, InvalidCoursewareId, parse_courseware_id, parse_run_key
from courses.models import Course, CourseRun, CourseRunEnrollment, Program, ProgramRequirement
from main.exceptions import DomainError, NotFoundError

log = logging.getLogger(__name__)

CATALOG_FORMAT = "catalog/1"
DEFAULT_CATALOG_PATH = Path(__file__).resolve().parent / "data" / "catalog.json"
SOURCE_RUN_TAG = "SOURCE"
_RUN_DATE_FIELDS = ("start_date", "end_date", "enrollment_start", "enrollment_end")


class CatalogError(DomainError):
    """A catalog file that cannot be loaded; the message names the entry and what to fix."""

    code = "invalid-catalog"


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class CatalogLoadResult:
    """What ``catalog_load`` did, per kind of record."""

    path: Path
    courses: Tally = field(default_factory=Tally)
    runs: Tally = field(default_factory=Tally)
    programs: Tally = field(default_factory=Tally)


# -- reading and checking the file ---------------------------------------------------------------


def _read_catalog(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(
            f"No catalog file at {path}: give the path of a catalog JSON file."
        ) from None
    except OSError as exc:
        raise CatalogError(f"Cannot read the catalog file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8."
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
        raise CatalogError(
            f"{path} is not a catalog file: it must be a JSON object with "
            f'"format": "{CATALOG_FORMAT}" (see docs/catalog-format.md).'
        )
    for key in ("courses", "programs"):
        if not isinstance(data.get(key, []), list):
            raise CatalogError(f'{path}: "{key}" must be a list.')
    return data


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f'{where}: "{key}" must be a non-empty string.')
    return value.strip()


def _date(entry: dict[str, Any], key: str, where: str) -> datetime | None:
    value = entry.get(key)
    if value is None:
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13 or hour 25
        parsed = None
    if parsed is None:
        raise CatalogError(f'{where}: "{key}" must be an ISO 8601 date-time, got {value!r}.')
    return make_aware(parsed) if is_naive(parsed) else parsed


def _run_fields(entry: dict[str, Any], course_id: str, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: a run must be an object with a courseware_id.")
    courseware_id = _text(entry, "courseware_id", where)
    try:
        locator = parse_run_key(courseware_id)
    except InvalidCoursewareId as exc:
        raise CatalogError(f"{where}: {exc.message}") from None
    parsed = parse_courseware_id(courseware_id)
    if parsed.course_readable_id != course_id:
        raise CatalogError(f"{where}: run {courseware_id} does not belong to course {course_id}.")
    run_tag = entry.get("run_tag", locator.run)
    if run_tag != locator.run:
        raise CatalogError(
            f'{where}: "run_tag" {run_tag!r} differs from the run part of {courseware_id}.'
        )
    fields: dict[str, Any] = {"courseware_id": courseware_id, "run_tag": locator.run}
    for name in _RUN_DATE_FIELDS:
        fields[name] = _date(entry, name, where)
    for name in ("live", "is_self_paced"):
        if name in entry and not isinstance(entry[name], bool):
            raise CatalogError(f'{where}: "{name}" must be true or false.')
    fields["live"] = entry.get("live", True)
    fields["is_self_paced"] = entry.get("is_self_paced", False)
    fields["title"] = _text(entry, "title", where, required=False)
    return fields


def _requirement_groups(entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Normalise ``requirements`` into groups:
    ``{"min": int | None, "ids": [...], "title": str}``."""
    requirements = entry.get("requirements", {})
    if not isinstance(requirements, dict):
        raise CatalogError(f'{where}: "requirements" must be an object.')
    unknown = set(requirements) - {"required", "electives"}
    if unknown:
        raise CatalogError(
            f'{where}: unknown requirement keys {sorted(unknown)}; use "required" and "electives".'
        )
    groups: list[dict[str, Any]] = []
    required = requirements.get("required", [])
    if not isinstance(required, list) or not all(isinstance(i, str) for i in required):
        raise CatalogError(f'{where}: "required" must be a list of readable IDs.')
    if required:
        groups.append({"min": None, "ids": required, "title": "Required courses"})
    electives = requirements.get("electives", [])
    if isinstance(electives, dict):
        electives = [electives]
    if not isinstance(electives, list):
        raise CatalogError(f'{where}: "electives" must be an object or a list of objects.')
    for index, group in enumerate(electives):
        ids = group.get("courses") if isinstance(group, dict) else None
        minimum = group.get("min") if isinstance(group, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
            raise CatalogError(f'{where}: elective group {index + 1} needs a "courses" list.')
        if (
            not isinstance(minimum, int)
            or isinstance(minimum, bool)
            or not 1 <= minimum <= len(ids)
        ):
            raise CatalogError(
                f'{where}: elective group {index + 1} needs "min" between 1 and {len(ids)}.'
            )
        title = _text(group, "title", f"{where}, elective group {index + 1}", required=False)
        groups.append({"min": minimum, "ids": ids, "title": title or "Elective courses"})
    for group in groups:
        repeated = sorted({i for i in group["ids"] if group["ids"].count(i) > 1})
        if repeated:
            raise CatalogError(f"{where}: {', '.join(repeated)} is listed twice in one group.")
    return groups


# -- writing -------------------------------------------------------------------------------------


def _upsert(model: type, lookup: dict[str, Any], values: dict[str, Any]) -> tuple[Any, str]:
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values), "created"
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return obj, "unchanged"
    for name in changed:
        setattr(obj, name, values[name])
    obj.save(update_fields=[*changed, "updated_on"])
    return obj, "updated"


def _tree_shape(program: Program) -> list[tuple[Any, ...]]:
    """A comparable description of a program's stored requirement groups."""
    nodes = list(program.requirement_nodes.select_related("course", "required_program"))
    children: dict[int | None, list[ProgramRequirement]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    roots = children[None]
    if len(roots) != 1:
        return [("invalid", len(roots))]
    shape = []
    for group in children[roots[0].pk]:
        ids = tuple(
            leaf.course.readable_id if leaf.course else leaf.required_program.readable_id
            for leaf in children[group.pk]
        )
        minimum = (
            group.min_required if group.operator == ProgramRequirement.Operator.MIN_OF else None
        )
        shape.append((minimum, ids, group.title))
    return shape


def _write_tree(program: Program, groups: list[dict[str, Any]], refs: dict[str, Any]) -> None:
    program.requirement_nodes.all().delete()
    root = ProgramRequirement.objects.create(
        program=program, node_type="operator", operator=ProgramRequirement.Operator.ALL_OF
    )
    for position, group in enumerate(groups):
        operator = (
            ProgramRequirement.Operator.ALL_OF
            if group["min"] is None
            else ProgramRequirement.Operator.MIN_OF
        )
        node = ProgramRequirement.objects.create(
            program=program,
            parent=root,
            node_type="operator",
            operator=operator,
            min_required=group["min"],
            title=group["title"],
            position=position,
        )
        for leaf_position, readable_id in enumerate(group["ids"]):
            target = refs[readable_id]
            ProgramRequirement.objects.create(
                program=program,
                parent=node,
                node_type="program" if isinstance(target, Program) else "course",
                course=target if isinstance(target, Course) else None,
                required_program=target if isinstance(target, Program) else None,
                position=leaf_position,
            )


def _check_no_cycles(graph: dict[str, list[str]], roots: list[str]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = " → ".join([*trail[trail.index(node) :], node])
            raise CatalogError(f"Programs require each other in a cycle: {cycle}.")
        state[node] = 1
        for child in graph.get(node, []):
            visit(child, [*trail, node])
        state[node] = 2

    for node in roots:
        visit(node, [])


@transaction.atomic
def catalog_load(path: Path | None = None) -> CatalogLoadResult:
    """Load a catalog file (format ``catalog/1``, docs/catalog-format.md) into the database.

    Idempotent: courses, runs and programs are matched by readable ID / courseware ID, created or
    updated; nothing missing from the file is deleted; loading the same file twice changes
    nothing. Creates no organizations or contracts (SPEC §3). With no ``path``, loads the catalog
    shipped with the project. Raises ``CatalogError`` (and writes nothing) for a bad file.
    """
    path = Path(path) if path else DEFAULT_CATALOG_PATH
    data = _read_catalog(path)
    result = CatalogLoadResult(path=path)

    # Check the whole file before writing anything.
    course_entries: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("courses", [])):
        where = f"courses[{index}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: each course must be an object.")
        readable_id = _text(entry, "readable_id", where)
        where = f"course {readable_id}"
        try:
            parsed = parse_courseware_id(readable_id)
        except InvalidCoursewareId as exc:
            raise CatalogError(f"{where}: {exc.message}") from None
        if parsed.kind != "course":
            raise CatalogError(f"{where}: a course readable ID is course-v1:ORG+NUMBER (no run).")
        if readable_id in seen:
            raise CatalogError(f"{where} is listed twice.")
        seen.add(readable_id)
        course = {"readable_id": readable_id, "title": _text(entry, "title", where)}
        if not isinstance(entry.get("runs", []), list):
            raise CatalogError(f'{where}: "runs" must be a list.')
        runs = [
            _run_fields(run, readable_id, f"{where}, runs[{i}]")
            for i, run in enumerate(entry.get("runs", []))
        ]
        source = entry.get("source_run")
        source_fields = None
        if source is not None:
            source_fields = _run_fields(source, readable_id, f"{where}, source_run")
            source_fields.update(live=source.get("live", False), is_self_paced=True)
        keys = [run["courseware_id"] for run in runs] + (
            [source_fields["courseware_id"]] if source_fields else []
        )
        if len(keys) != len(set(keys)):
            raise CatalogError(f"{where}: a courseware ID is listed twice among its runs.")
        course_entries.append((course, runs, source_fields))

    program_entries: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    program_ids = set()
    for index, entry in enumerate(data.get("programs", [])):
        where = f"programs[{index}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: each program must be an object.")
        readable_id = _text(entry, "readable_id", where)
        where = f"program {readable_id}"
        if not PROGRAM_ID_PATTERN.match(readable_id):
            raise CatalogError(f"{where}: program readable IDs look like program-v1:ORG+NAME.")
        if readable_id in program_ids:
            raise CatalogError(f"{where} is listed twice.")
        program_ids.add(readable_id)
        groups = _requirement_groups(entry, where)
        program_entries.append(
            ({"readable_id": readable_id, "title": _text(entry, "title", where)}, groups)
        )

    known_courses = seen | set(
        Course.objects.filter(
            readable_id__in={i for _, gs in program_entries for g in gs for i in g["ids"]}
        ).values_list("readable_id", flat=True)
    )
    known_programs = program_ids | set(Program.objects.values_list("readable_id", flat=True))
    graph: dict[str, list[str]] = {}
    # Stored programs the file does not redefine keep their stored edges: a cycle can close
    # through them. Only cycles reachable from the file's programs are the file's fault.
    for parent_id, child_id in (
        ProgramRequirement.objects.filter(node_type=ProgramRequirement.NodeType.PROGRAM)
        .exclude(program__readable_id__in=program_ids)
        .values_list("program__readable_id", "required_program__readable_id")
    ):
        graph.setdefault(parent_id, []).append(child_id)
    for program, groups in program_entries:
        for group in groups:
            for ref in group["ids"]:
                if ref.startswith("program-v1:"):
                    if ref not in known_programs:
                        raise CatalogError(
                            f"program {program['readable_id']} requires {ref}, which is neither in "
                            "the file nor in the database."
                        )
                    graph.setdefault(program["readable_id"], []).append(ref)
                elif ref not in known_courses:
                    raise CatalogError(
                        f"program {program['readable_id']} requires {ref}, which is neither in the "
                        'file nor in the database: add the course to "courses".'
                    )
    _check_no_cycles(graph, [program["readable_id"] for program, _ in program_entries])

    # Write.
    for course_fields, runs, source_fields in course_entries:
        course, outcome = _upsert(
            Course, {"readable_id": course_fields["readable_id"]}, {"title": course_fields["title"]}
        )
        result.courses.count(outcome)
        if source_fields is not None:
            # One source run per course: a new source key takes the flag from the old one.
            course.runs.filter(is_source_run=True).exclude(
                courseware_id=source_fields["courseware_id"]
            ).update(is_source_run=False)
        for run_fields in [*runs, *([source_fields] if source_fields else [])]:
            values = dict(run_fields)
            courseware_id = values.pop("courseware_id")
            values["title"] = values["title"] or course.title
            values["is_source_run"] = run_fields is source_fields
            values["course"] = course
            if CourseRun.objects.filter(courseware_id=courseware_id, is_b2b=True).exists():
                # A run that is or was a contract run is the b2b app's now: its dates and
                # enrollment window are left as the contract made them (SPEC §1, §2 remove).
                result.runs.count("unchanged")
                continue
            _, outcome = _upsert(CourseRun, {"courseware_id": courseware_id}, values)
            result.runs.count(outcome)

    programs: dict[str, tuple[Program, str]] = {}
    for program_fields, _ in program_entries:
        program, outcome = _upsert(
            Program,
            {"readable_id": program_fields["readable_id"]},
            {"title": program_fields["title"]},
        )
        programs[program.readable_id] = (program, outcome)
    referenced = {i for _, gs in program_entries for g in gs for i in g["ids"]}
    refs: dict[str, Any] = {
        c.readable_id: c for c in Course.objects.filter(readable_id__in=referenced)
    }
    refs.update({p.readable_id: p for p in Program.objects.filter(readable_id__in=referenced)})
    for program_fields, groups in program_entries:
        program, outcome = programs[program_fields["readable_id"]]
        wanted = [(g["min"], tuple(g["ids"]), g["title"]) for g in groups]
        if _tree_shape(program) != wanted:
            _write_tree(program, groups, refs)
            outcome = "updated" if outcome == "unchanged" else outcome
        result.programs.count(outcome)
    return result


# -- reading the requirements tree ---------------------------------------------------------------


def program_get(readable_id: str) -> Program:
    """The program with this readable ID; ``NotFoundError`` naming ``b2b_list`` otherwise."""
    program = Program.objects.filter(readable_id=readable_id).first()
    if program is None:
        raise NotFoundError(
            f"No program '{readable_id}' in the catalog: check the readable ID "
            "(load the catalog with manage.py load_catalog)."
        )
    return program


def program_courses(program: Program) -> list[Course]:
    """Every course in the program's requirements tree, nested programs included.

    Depth-first in tree order, each course once. Required and elective courses alike: a contract
    gets a run for every course a learner might take. Queries: one per program in the tree.
    """
    courses: list[Course] = []
    seen_courses: set[int] = set()
    seen_programs: set[int] = set()

    def walk(current: Program) -> None:
        if current.pk in seen_programs:
            return
        seen_programs.add(current.pk)
        nodes = list(current.requirement_nodes.select_related("course", "required_program"))
        children: dict[int | None, list[ProgramRequirement]] = defaultdict(list)
        for node in nodes:
            children[node.parent_id].append(node)

        def visit(parent_id: int | None) -> None:
            for node in children[parent_id]:
                if node.node_type == ProgramRequirement.NodeType.COURSE:
                    if node.course_id not in seen_courses:
                        seen_courses.add(node.course_id)
                        courses.append(node.course)
                elif node.node_type == ProgramRequirement.NodeType.PROGRAM:
                    walk(node.required_program)
                else:
                    visit(node.pk)

        visit(None)

    walk(program)
    return courses


# -- enrollments ---------------------------------------------------------------------------------


def run_get(courseware_id: str) -> CourseRun:
    """The run with this courseware ID, or ``RunNotFound``."""
    run = CourseRun.objects.select_related("course").filter(courseware_id=courseware_id).first()
    if run is None:
        raise RunNotFound(
            f"No course run '{courseware_id}': give the courseware ID of an existing run "
            "(GET /api/v0/courses/ lists each course's runs; a contract's runs are listed on "
            "My courses, /dashboard/)."
        )
    return run


def enrollments_list(user: Any) -> list[CourseRunEnrollment]:
    """The learner's active enrollments, newest first, with run, course and contract loaded."""
    return list(
        CourseRunEnrollment.objects.filter(user=user, active=True)
        .select_related("run__course", "run__b2b_contract__organization")
        .order_by("-created_on", "-pk")
    )
