"""Reading and checking a catalog file (format ``catalog/1``, docs/catalog-format.md).

``catalog_read`` checks the whole file, entry by entry, before anything is written, and returns
its courses (with their runs and source run) and programs (with their requirement groups);
``CatalogError`` names the first entry that is wrong and what to fix. What needs the database
(references to courses and programs stored already, cycles through them) is checked by the
loader, ``courses.catalog``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from courses.keys import PROGRAM_ID_PATTERN, InvalidCoursewareId, parse_courseware_id, parse_run_key
from main.exceptions import DomainError

CATALOG_FORMAT = "catalog/1"
_RUN_DATE_FIELDS = ("start_date", "end_date", "enrollment_start", "enrollment_end")


class CatalogError(DomainError):
    """A catalog file that cannot be loaded; the message names the entry and what to fix."""

    code = "invalid-catalog"


@dataclass
class CourseEntry:
    """A course of the file: ``fields`` (``readable_id``, ``title``), its ``runs`` and its
    ``source`` run (fields of ``CourseRun``, ``courseware_id`` included), checked."""

    fields: dict[str, Any]
    runs: list[dict[str, Any]]
    source: dict[str, Any] | None


@dataclass
class ProgramEntry:
    """A program of the file: ``fields`` (``readable_id``, ``title``) and its requirement
    ``groups`` (``{"min": int | None, "ids": [readable ID, ...], "title": str}``), checked."""

    fields: dict[str, Any]
    groups: list[dict[str, Any]]


@dataclass
class CatalogFile:
    """A checked catalog file, in the file's order."""

    path: Path
    courses: list[CourseEntry]
    programs: list[ProgramEntry]

    @property
    def course_ids(self) -> set[str]:
        return {course.fields["readable_id"] for course in self.courses}

    @property
    def program_ids(self) -> set[str]:
        return {program.fields["readable_id"] for program in self.programs}

    @property
    def referenced_ids(self) -> set[str]:
        """The readable IDs the programs' requirements name (courses and programs)."""
        return {i for program in self.programs for group in program.groups for i in group["ids"]}


def catalog_read(path: Path) -> CatalogFile:
    """Read and check the catalog file at ``path``; ``CatalogError`` for the first problem."""
    data = _read_catalog(path)
    courses: list[CourseEntry] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("courses", [])):
        courses.append(_course_entry(entry, f"courses[{index}]", seen))
    programs: list[ProgramEntry] = []
    program_ids: set[str] = set()
    for index, entry in enumerate(data.get("programs", [])):
        programs.append(_program_entry(entry, f"programs[{index}]", program_ids))
    return CatalogFile(path=path, courses=courses, programs=programs)


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


def _course_entry(entry: Any, where: str, seen: set[str]) -> CourseEntry:
    """One course of the file, checked; its readable ID joins ``seen`` (the ones before it)."""
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
    fields = {"readable_id": readable_id, "title": _text(entry, "title", where)}
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
    return CourseEntry(fields, runs, source_fields)


def _program_entry(entry: Any, where: str, seen: set[str]) -> ProgramEntry:
    """One program of the file, checked; its readable ID joins ``seen`` (the ones before it)."""
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: each program must be an object.")
    readable_id = _text(entry, "readable_id", where)
    where = f"program {readable_id}"
    if not PROGRAM_ID_PATTERN.match(readable_id):
        raise CatalogError(f"{where}: program readable IDs look like program-v1:ORG+NAME.")
    if readable_id in seen:
        raise CatalogError(f"{where} is listed twice.")
    seen.add(readable_id)
    groups = _requirement_groups(entry, where)
    return ProgramEntry({"readable_id": readable_id, "title": _text(entry, "title", where)}, groups)


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
