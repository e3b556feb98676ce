"""The stand-in's Studio: the course-runs API under ``/studio``.

``GET /api/v1/course_runs/{key}/`` → 200 the run, 404 ``{"detail": "Not found."}``.
``POST /api/v1/course_runs/clone/`` → 201 ``{"message": "Course cloned successfully."}``;
400 ``{"non_field_errors": ["Source course does not exist."]}`` or ``["Destination course
already exists."]``. ``PATCH /api/v1/course_runs/{key}/`` → 200 the run; 404 unknown; 400 field
errors. ``PUT`` replaces the run and, like Studio, empties its course team when ``team`` is left
out.
"""

from __future__ import annotations

from typing import Any

from openedx.standin.state import (
    CLONE_DEFAULT_START,
    Reply,
    StandinState,
    course_key,
    parse_datetime,
)

STUDIO_PREFIX = "/studio"
COURSE_RUNS_PATH = f"{STUDIO_PREFIX}/api/v1/course_runs/"


def run_get(state: StandinState, key: str) -> dict[str, Any]:
    """``GET`` a run: its JSON, or 404."""
    with state.lock:
        if key not in state.runs:
            raise Reply(404, {"detail": "Not found."})
        return state.run_json(key)


def run_clone(state: StandinState, body: Any) -> dict[str, Any]:
    """``POST clone/``: copy the source run to the destination key, as Studio does (the title
    and pacing kept, the dates reset to Studio's default start, the service account as the
    course team); 400 for a missing source or an existing destination."""
    if not isinstance(body, dict):
        raise Reply(
            400,
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {type(body).__name__}."
                ]
            },
        )
    missing = {
        name: ["This field is required."]
        for name in ("source_course_id", "destination_course_id")
        if not body.get(name)
    }
    if missing:
        raise Reply(400, missing)
    source = course_key(str(body["source_course_id"]))
    destination = course_key(str(body["destination_course_id"]))
    if source is None or destination is None:
        raise Reply(400, {"non_field_errors": ["Invalid course key."]})
    with state.lock:
        if source not in state.runs:
            raise Reply(400, {"non_field_errors": ["Source course does not exist."]})
        if destination in state.runs:
            raise Reply(400, {"non_field_errors": ["Destination course already exists."]})
        original = state.runs[source]
        state.add_run(
            destination,
            title=original["title"],
            self_paced=original["self_paced"],
            schedule={"start": CLONE_DEFAULT_START},
            modes=["audit"],
            team=[{"user": state.service_username, "role": "instructor"}],
        )
    return {"message": "Course cloned successfully."}


def run_update(state: StandinState, key: str, body: Any, *, partial: bool) -> dict[str, Any]:
    """``PATCH`` (``partial``) or ``PUT`` a run: title, pacing, schedule, team, checked as
    Studio's serializer does; a ``PUT`` without ``team`` empties the course team."""
    with state.lock:
        if key not in state.runs:
            raise Reply(404, {"detail": "Not found."})
    if not isinstance(body, dict):
        raise Reply(400, {"non_field_errors": ["Invalid data."]})
    errors: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    if "title" in body:
        if not isinstance(body["title"], str) or not body["title"].strip():
            errors["title"] = ["This field may not be blank."]
        else:
            changes["title"] = body["title"]
    elif not partial:
        errors["title"] = ["This field is required."]
    if "pacing_type" in body:
        if body["pacing_type"] not in ("instructor_paced", "self_paced"):
            errors["pacing_type"] = [f'"{body["pacing_type"]}" is not a valid choice.']
        else:
            changes["self_paced"] = body["pacing_type"] == "self_paced"
    if "schedule" in body:
        schedule_errors = _schedule(body["schedule"], changes, partial=partial)
        if schedule_errors:
            errors["schedule"] = schedule_errors
    if "team" in body:
        team = body["team"]
        if not isinstance(team, list) or not all(
            isinstance(m, dict) and m.get("user") and m.get("role") for m in team
        ):
            errors["team"] = ["Course team user does not exist"]
        else:
            changes["team"] = [{"user": m["user"], "role": m["role"]} for m in team]
    elif not partial:
        changes["team"] = []  # Studio: a full update without a team wipes the course team
    if errors:
        raise Reply(400, errors)
    with state.lock:
        state.runs[key].update(changes)
        return state.run_json(key)


def _schedule(schedule: Any, changes: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    if not isinstance(schedule, dict):
        return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
    errors: dict[str, Any] = {}
    for name in ("start", "end", "enrollment_start", "enrollment_end"):
        nullable = name.startswith("enrollment_")
        if name not in schedule:
            if not partial and not nullable:
                errors[name] = ["This field is required."]
            continue
        value = schedule[name]
        if value is None:
            if nullable:
                changes[name] = None
            else:
                errors[name] = ["This field may not be null."]
            continue
        try:
            changes[name] = parse_datetime(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return errors
