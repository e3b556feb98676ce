"""Loading a catalog file into the database: courses, course runs and programs (SPEC §3).

The file is read and checked by ``courses.catalog_file``; this module checks what needs the
database (a program's requirements name courses and programs that exist, without a cycle), then
writes, matching records by readable ID or courseware ID.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction

from courses.catalog_file import CatalogError, CatalogFile, CourseEntry, catalog_read
from courses.models import Course, CourseRun, Program, ProgramRequirement

__all__ = ["DEFAULT_CATALOG_PATH", "CatalogError", "CatalogLoadResult", "Tally", "catalog_load"]

DEFAULT_CATALOG_PATH = Path(__file__).resolve().parent / "data" / "catalog.json"

_Record = TypeVar("_Record", Course, CourseRun, Program)


@dataclass
class Tally:
    """How many records of one kind a load created, updated and left unchanged."""

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


@transaction.atomic
def catalog_load(path: Path | None = None) -> CatalogLoadResult:
    """Load a catalog file (format ``catalog/1``, docs/catalog-format.md) into the database.

    Idempotent: courses, runs and programs are matched by readable ID / courseware ID, created or
    updated; nothing missing from the file is deleted; loading the same file twice changes
    nothing. Creates no organizations or contracts (SPEC §3). With no ``path``, loads the catalog
    shipped with the project. Raises ``CatalogError`` (and writes nothing) for a bad file.
    """
    path = Path(path) if path else DEFAULT_CATALOG_PATH
    catalog = catalog_read(path)  # the whole file is checked before anything is written
    _check_requirements(catalog)
    result = CatalogLoadResult(path=path)
    for course in catalog.courses:
        _write_course(course, result)
    _write_programs(catalog, result)
    return result


# -- checking against the database ---------------------------------------------------------------


def _check_requirements(catalog: CatalogFile) -> None:
    """Every course and program a requirement names is in the file or the database, and no
    program requires itself through others."""
    known_courses = catalog.course_ids | set(
        Course.objects.filter(readable_id__in=catalog.referenced_ids).values_list(
            "readable_id", flat=True
        )
    )
    program_ids = catalog.program_ids
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
    for program in catalog.programs:
        readable_id = program.fields["readable_id"]
        for group in program.groups:
            for ref in group["ids"]:
                if ref.startswith("program-v1:"):
                    if ref not in known_programs:
                        raise CatalogError(
                            f"program {readable_id} requires {ref}, which is neither in "
                            "the file nor in the database."
                        )
                    graph.setdefault(readable_id, []).append(ref)
                elif ref not in known_courses:
                    raise CatalogError(
                        f"program {readable_id} requires {ref}, which is neither in the "
                        'file nor in the database: add the course to "courses".'
                    )
    _check_no_cycles(graph, [program.fields["readable_id"] for program in catalog.programs])


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


# -- writing -------------------------------------------------------------------------------------


def _write_course(entry: CourseEntry, result: CatalogLoadResult) -> None:
    course_fields, source_fields = entry.fields, entry.source
    course, outcome = _upsert(
        Course, {"readable_id": course_fields["readable_id"]}, {"title": course_fields["title"]}
    )
    result.courses.count(outcome)
    if source_fields is not None:
        # One source run per course: a new source key takes the flag from the old one.
        course.runs.filter(is_source_run=True).exclude(
            courseware_id=source_fields["courseware_id"]
        ).update(is_source_run=False)
    for run_fields in [*entry.runs, *([source_fields] if source_fields else [])]:
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


def _write_programs(catalog: CatalogFile, result: CatalogLoadResult) -> None:
    programs: dict[str, tuple[Program, str]] = {}
    for entry in catalog.programs:
        program, outcome = _upsert(
            Program,
            {"readable_id": entry.fields["readable_id"]},
            {"title": entry.fields["title"]},
        )
        programs[program.readable_id] = (program, outcome)
    referenced = catalog.referenced_ids
    refs: dict[str, Course | Program] = {
        c.readable_id: c for c in Course.objects.filter(readable_id__in=referenced)
    }
    refs.update({p.readable_id: p for p in Program.objects.filter(readable_id__in=referenced)})
    for entry in catalog.programs:
        program, outcome = programs[entry.fields["readable_id"]]
        wanted = [(g["min"], tuple(g["ids"]), g["title"]) for g in entry.groups]
        if _tree_shape(program) != wanted:
            _write_tree(program, entry.groups, refs)
            outcome = "updated" if outcome == "unchanged" else outcome
        result.programs.count(outcome)


def _upsert(
    model: type[_Record], lookup: dict[str, Any], values: dict[str, Any]
) -> tuple[_Record, str]:
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values), "created"
    changed: list[str] = [name for name, value in values.items() if getattr(obj, name) != value]
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
        ids = tuple(_leaf_id(leaf) for leaf in children[group.pk])
        minimum = (
            group.min_required if group.operator == ProgramRequirement.Operator.MIN_OF else None
        )
        shape.append((minimum, ids, group.title))
    return shape


def _leaf_id(leaf: ProgramRequirement) -> str:
    """The readable ID a leaf names: its course's, else its nested program's."""
    if leaf.course is not None:
        return leaf.course.readable_id
    assert leaf.required_program is not None  # the node-shape constraint of ProgramRequirement
    return leaf.required_program.readable_id


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
