"""The stand-in's LMS enrollment API.

``POST /api/enrollment/v1/enrollment`` (JSON ``user``, ``mode``, ``is_active``,
``course_details.course_id``, ``force_enrollment``) → 200 with the enrollment, also when it
exists already; unknown run → 400; unknown user → 406; a mode the run lacks → 400.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from openedx.standin.state import Reply, StandinState, course_key, iso

ENROLLMENT_PATH = "/api/enrollment/v1/enrollment"


def enrollment_create(state: StandinState, requester: str, body: Any) -> dict[str, Any]:
    """Enroll ``user`` (else the ``requester``, the token's user) in the run; an existing
    enrollment is updated and answered with (the LMS is idempotent here)."""
    if not isinstance(body, dict):
        raise Reply(400, {"message": "Course ID must be specified to create a new enrollment."})
    details = body.get("course_details") or {}
    course_id = details.get("course_id") if isinstance(details, dict) else None
    if not course_id:
        raise Reply(400, {"message": "Course ID must be specified to create a new enrollment."})
    key = course_key(str(course_id))
    with state.lock:
        if key is None or key not in state.runs:
            raise Reply(400, {"message": f"No course '{course_id}' found for enrollment"})
    username = body.get("user") or requester
    is_active = body.get("is_active")
    if is_active is not None and not isinstance(is_active, bool):
        raise Reply(400, {"message": f"'{is_active}' is an invalid enrollment activation status."})
    force = body.get("force_enrollment")
    if force is not None and not isinstance(force, bool):
        raise Reply(400, {"message": f"'{force}' is an invalid force enrollment status."})
    mode = body.get("mode") or "audit"
    with state.lock:
        if username not in state.users:
            if not state.auto_users:
                raise Reply(406, {"message": f"The user {username} does not exist."})
            state.users.add(username)
        run = state.runs[key]
        if mode not in run["modes"]:
            raise Reply(
                400,
                {
                    "message": f"The [{mode}] course mode is expired or otherwise "
                    f"unavailable for course run [{key}]."
                },
            )
        enrollment = state.enrollments.get((username, key))
        if enrollment is None:
            enrollment = state.enrollments[(username, key)] = {
                "created": iso(dt.datetime.now(dt.UTC)),
                "user": username,
                "course_details": {"course_id": key, "course_name": run["title"]},
            }
        enrollment["mode"] = mode
        enrollment["is_active"] = True if is_active is None else is_active
        return dict(enrollment)
