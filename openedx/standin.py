"""A local stand-in for Open edX, speaking the protocol the client uses (SPEC §8).

For tests and for trying the integration by hand (``manage.py openedx_standin``). One HTTP
server plays both sides: the LMS at its root, Studio under ``/studio``. It keeps everything in
memory and answers as Open edX does, status codes and error bodies included:

LMS
  ``POST /oauth2/access_token`` (form: ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``, ``token_type=jwt``) → 200 ``{"access_token": <JWT>, "expires_in": N,
  "token_type": "JWT", "scope": "read write"}``; wrong credentials → 401 ``invalid_client``;
  another grant → 400 ``unsupported_grant_type``.
  ``POST /api/enrollment/v1/enrollment`` (JSON ``user``, ``mode``, ``is_active``,
  ``course_details.course_id``, ``force_enrollment``) → 200 with the enrollment, also when it
  exists already; unknown run → 400; unknown user → 406; a mode the run lacks → 400.
Studio (``/studio``)
  ``GET /api/v1/course_runs/{key}/`` → 200 the run, 404 ``{"detail": "Not found."}``.
  ``POST /api/v1/course_runs/clone/`` → 201 ``{"message": "Course cloned successfully."}``;
  400 ``{"non_field_errors": ["Source course does not exist."]}`` or ``["Destination course
  already exists."]``.
  ``PATCH /api/v1/course_runs/{key}/`` → 200 the run; 404 unknown; 400 field errors. ``PUT``
  replaces the run and, like Studio, empties its course team when ``team`` is left out.
Every LMS and Studio endpoint but the token one needs ``Authorization: JWT <token>`` with a token
it issued and that has not expired: else 401 (``Authentication credentials were not provided.``,
``Error decoding token.``, ``Signature has expired.``).

Control API (``/_standin/``, for tests and operators; no authentication, so bind to loopback):
``GET state`` what it holds (runs, enrollments, users, tokens issued, the request log, pending
faults); ``POST faults`` ``{"mode": "500"|"timeout"|"timeout-after", "count": N, "path": prefix,
"method": M}`` fails the next N matching requests (``timeout`` holds the request unanswered and
does nothing; ``timeout-after`` does the work, then never answers); ``POST expire-tokens``
``{"after_requests": N}`` expires every token issued so far after N more authorized requests;
``POST courses`` adds a run; ``POST users`` adds an LMS user; ``POST config`` sets
``token_lifetime``, ``auto_users``, ``latency``, ``stall_seconds``; ``POST reset`` forgets all
but the seeded runs.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

DEFAULT_CLIENT_ID = "standin-client"
DEFAULT_CLIENT_SECRET = "standin-secret"
DEFAULT_SERVICE_USERNAME = "b2b-service-worker"
STUDIO_PREFIX = "/studio"
CONTROL_PREFIX = "/_standin/"
DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "courses" / "data" / "catalog.json"
# What Studio gives a run cloned without dates (xmodule's default course start).
CLONE_DEFAULT_START = "2030-01-01T00:00:00Z"
FAULT_MODES = ("500", "timeout", "timeout-after")
DATETIME_FORMAT_ERROR = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)


class _Reply(Exception):
    """Answer the request now with ``status`` and ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(DATETIME_FORMAT_ERROR)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(DATETIME_FORMAT_ERROR) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _course_key(text: str) -> str | None:
    try:
        return str(CourseKey.from_string(text))
    except InvalidKeyError:
        return None


@dataclass
class _Fault:
    mode: str
    remaining: int
    path: str = ""
    method: str = ""

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and (not self.method or self.method == method)


@dataclass
class StandinState:
    """What the stand-in holds; every access goes through ``lock``."""

    client_id: str
    client_secret: str
    service_username: str
    token_lifetime: int = 3600
    auto_users: bool = True
    latency: float = 0.0
    stall_seconds: float = 30.0
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    revoked: set[str] = field(default_factory=set)
    issued: set[str] = field(default_factory=set)
    expire_countdown: int | None = None
    faults: list[_Fault] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    seed: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    CONFIG = (
        ("token_lifetime", int),
        ("auto_users", bool),
        ("latency", float),
        ("stall_seconds", float),
    )

    def __post_init__(self) -> None:
        self.defaults = {name: getattr(self, name) for name, _ in self.CONFIG}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "runs": {key: self.run_json(key) for key in sorted(self.runs)},
                "enrollments": [dict(e) for _, e in sorted(self.enrollments.items())],
                "users": sorted(self.users),
                "tokens_issued": self.tokens_issued,
                "requests": [dict(entry) for entry in self.log],
                "faults": [vars(f).copy() for f in self.faults],
                "config": {
                    "token_lifetime": self.token_lifetime,
                    "auto_users": self.auto_users,
                    "latency": self.latency,
                    "stall_seconds": self.stall_seconds,
                },
            }

    def run_json(self, key: str) -> dict[str, Any]:
        run = self.runs[key]
        return {
            "id": key,
            "title": run["title"],
            "schedule": {
                "start": _iso(run["start"]),
                "end": _iso(run["end"]),
                "enrollment_start": _iso(run["enrollment_start"]),
                "enrollment_end": _iso(run["enrollment_end"]),
            },
            "pacing_type": "self_paced" if run["self_paced"] else "instructor_paced",
            "team": [dict(member) for member in run["team"]],
            "images": {
                "card_image": f"/asset-v1:{key.removeprefix('course-v1:')}"
                "+type@asset+block@images_course_image.jpg"
            },
        }

    def add_run(
        self,
        key: str,
        *,
        title: str,
        self_paced: bool = False,
        schedule: dict[str, Any] | None = None,
        modes: list[str] | None = None,
        team: list[dict[str, str]] | None = None,
    ) -> None:
        schedule = schedule or {}
        self.runs[key] = {
            "title": title,
            "self_paced": self_paced,
            "start": _parse_datetime(schedule["start"]) if schedule.get("start") else None,
            "end": _parse_datetime(schedule["end"]) if schedule.get("end") else None,
            "enrollment_start": (
                _parse_datetime(schedule["enrollment_start"])
                if schedule.get("enrollment_start")
                else None
            ),
            "enrollment_end": (
                _parse_datetime(schedule["enrollment_end"])
                if schedule.get("enrollment_end")
                else None
            ),
            "team": list(team or []),
            "modes": list(modes or ["audit"]),
        }

    def reset(self) -> None:
        """Back to the start: the seeded runs, no users, enrollments, tokens, faults or log,
        and the configuration it was started with."""
        with self.lock:
            for name, value in self.defaults.items():
                setattr(self, name, value)
            self.runs = {}
            for key, spec in self.seed.items():
                self.add_run(key, **spec)
            self.enrollments.clear()
            self.users.clear()
            self.tokens_issued = 0
            self.revoked.clear()
            self.issued.clear()
            self.expire_countdown = None
            self.faults.clear()
            self.log.clear()


def catalog_seed(path: Path) -> dict[str, dict[str, Any]]:
    """Runs for the stand-in from a catalog file (``docs/catalog-format.md``): every course's
    source run and runs, titled like the course, instructor-paced, without dates."""
    data = json.loads(path.read_text(encoding="utf-8"))
    seed: dict[str, dict[str, Any]] = {}
    for course in data.get("courses", []):
        runs = list(course.get("runs", []))
        if course.get("source_run"):
            runs.append(course["source_run"])
        for run in runs:
            key = _course_key(run["courseware_id"])
            if key:
                seed[key] = {"title": course["title"]}
    return seed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- dispatch --------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self, method: str) -> None:
        standin = self.server.standin
        state = standin.state
        path = urlsplit(self.path).path
        body = self._read_body()
        if path.startswith(CONTROL_PREFIX):
            self._answer_control(method, path, body)
            return
        fault = self._take_fault(method, path)
        if state.latency:
            standin.stopping.wait(state.latency)
        if fault is not None and fault.mode == "timeout":
            self._record(method, path, body, None, "timeout")
            self._stall()
            return
        if fault is not None and fault.mode == "500":
            self._record(method, path, body, 500, "500")
            self._send(500, {"detail": "Internal Server Error (injected by the stand-in)."})
            return
        try:
            status, payload, headers = self._route(method, path, body)
        except _Reply as reply:
            status, payload, headers = reply.status, reply.body, reply.headers
        if fault is not None:  # timeout-after: the work is done, the answer never comes
            self._record(method, path, body, None, "timeout-after")
            self._stall()
            return
        self._record(method, path, body, status, None)
        self._send(status, payload, headers)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        state = self.server.standin.state
        with state.lock:
            for fault in state.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        state.faults.remove(fault)
                    return fault
        return None

    def _stall(self) -> None:
        self.server.standin.stopping.wait(self.server.standin.state.stall_seconds)
        self.close_connection = True

    def _record(
        self, method: str, path: str, body: bytes, status: int | None, fault: str | None
    ) -> None:
        """Log the request: what was sent (the JSON body, or the token form with the secret
        masked), the ``Authorization`` scheme, and the answer's status (None: no answer)."""
        state = self.server.standin.state
        sent: Any = None
        if path == "/oauth2/access_token":
            sent = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if "client_secret" in sent:
                sent["client_secret"] = "***"
        elif body:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = body.decode("utf-8", "replace")
        scheme = self.headers.get("Authorization", "").partition(" ")[0] or None
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "fault": fault,
            "auth": scheme,
            "body": sent,
        }
        with state.lock:
            state.log.append(entry)
        if self.server.standin.on_request:
            self.server.standin.on_request(entry)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # -- the protocol ----------------------------------------------------------------------------

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        if path == "/oauth2/access_token":
            self._allow(method, "POST")
            return 200, self._token(body), {"Cache-Control": "no-store"}
        # Like DRF: authentication first, then the method.
        if path.rstrip("/") == "/api/enrollment/v1/enrollment":
            user = self._authorize()
            self._allow(method, "POST")
            return 200, self._enroll(user, self._json(body)), {}
        studio = f"{STUDIO_PREFIX}/api/v1/course_runs/"
        if path == f"{studio}clone/":
            self._authorize()
            self._allow(method, "POST")
            return 201, self._clone(self._json(body)), {}
        if path.startswith(studio) and path.endswith("/") and len(path) > len(studio):
            key = unquote(path[len(studio) : -1])
            self._authorize()
            self._allow(method, "GET", "PATCH", "PUT")
            if method == "GET":
                return 200, self._run_get(key), {}
            return 200, self._run_update(key, self._json(body), partial=method == "PATCH"), {}
        raise _Reply(404, {"detail": "Not found."})

    def _allow(self, method: str, *allowed: str) -> None:
        if method not in allowed:
            raise _Reply(
                405, {"detail": f'Method "{method}" not allowed.'}, {"Allow": ", ".join(allowed)}
            )

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise _Reply(400, {"detail": f"JSON parse error - {exc}"}) from None

    def _token(self, body: bytes) -> dict[str, Any]:
        state = self.server.standin.state
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        if form.get("grant_type") != "client_credentials":
            raise _Reply(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (
            state.client_id,
            state.client_secret,
        ):
            raise _Reply(401, {"error": "invalid_client"})
        if form.get("token_type", "").lower() != "jwt":
            raise _Reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "This stand-in issues JWTs only: send token_type=jwt.",
                },
            )
        now = int(time.time())
        with state.lock:
            lifetime = state.token_lifetime
            jti = uuid.uuid4().hex
            state.tokens_issued += 1
            state.issued.add(jti)
        claims = {
            "iss": self.server.standin.url,
            "aud": "openedx",
            "preferred_username": state.service_username,
            "administrator": True,
            "scopes": ["read", "write"],
            "iat": now,
            "exp": now + lifetime,
            "jti": jti,
        }
        token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self.server.standin.signing_key)
        return {
            "access_token": token,
            "expires_in": lifetime,
            "token_type": "JWT",
            "scope": "read write",
        }

    def _authorize(self) -> str:
        """The username of a valid ``JWT`` bearer; else a 401 like edx-drf-extensions'."""
        state = self.server.standin.state
        challenge = {"WWW-Authenticate": 'JWT realm="api"'}
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "JWT" or not token:
            raise _Reply(
                401, {"detail": "Authentication credentials were not provided."}, challenge
            )
        try:
            decoded = jwt.decode(token.strip(), self.server.standin.signing_key)
            jwt.JWTClaimsRegistry(exp={"essential": True}, leeway=0).validate(decoded.claims)
        except ExpiredTokenError:
            raise _Reply(401, {"detail": "Signature has expired."}, challenge) from None
        except (JoseError, ValueError):
            raise _Reply(401, {"detail": "Error decoding token."}, challenge) from None
        with state.lock:
            if decoded.claims.get("jti") in state.revoked:
                raise _Reply(401, {"detail": "Signature has expired."}, challenge)
            if state.expire_countdown is not None:
                state.expire_countdown -= 1
                if state.expire_countdown <= 0:
                    state.revoked |= state.issued
                    state.expire_countdown = None
        return str(decoded.claims["preferred_username"])

    def _run_get(self, key: str) -> dict[str, Any]:
        state = self.server.standin.state
        with state.lock:
            if key not in state.runs:
                raise _Reply(404, {"detail": "Not found."})
            return state.run_json(key)

    def _clone(self, body: Any) -> dict[str, Any]:
        state = self.server.standin.state
        if not isinstance(body, dict):
            raise _Reply(
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
            raise _Reply(400, missing)
        source = _course_key(str(body["source_course_id"]))
        destination = _course_key(str(body["destination_course_id"]))
        if source is None or destination is None:
            raise _Reply(400, {"non_field_errors": ["Invalid course key."]})
        with state.lock:
            if source not in state.runs:
                raise _Reply(400, {"non_field_errors": ["Source course does not exist."]})
            if destination in state.runs:
                raise _Reply(400, {"non_field_errors": ["Destination course already exists."]})
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

    def _run_update(self, key: str, body: Any, *, partial: bool) -> dict[str, Any]:
        state = self.server.standin.state
        with state.lock:
            if key not in state.runs:
                raise _Reply(404, {"detail": "Not found."})
        if not isinstance(body, dict):
            raise _Reply(400, {"non_field_errors": ["Invalid data."]})
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
            schedule_errors = self._schedule(body["schedule"], changes, partial=partial)
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
            raise _Reply(400, errors)
        with state.lock:
            state.runs[key].update(changes)
            return state.run_json(key)

    def _schedule(self, schedule: Any, changes: dict[str, Any], *, partial: bool) -> dict[str, Any]:
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
                changes[name] = _parse_datetime(value)
            except ValueError as exc:
                errors[name] = [str(exc)]
        return errors

    def _enroll(self, requester: str, body: Any) -> dict[str, Any]:
        state = self.server.standin.state
        if not isinstance(body, dict):
            raise _Reply(
                400, {"message": "Course ID must be specified to create a new enrollment."}
            )
        details = body.get("course_details") or {}
        course_id = details.get("course_id") if isinstance(details, dict) else None
        if not course_id:
            raise _Reply(
                400, {"message": "Course ID must be specified to create a new enrollment."}
            )
        key = _course_key(str(course_id))
        with state.lock:
            if key is None or key not in state.runs:
                raise _Reply(400, {"message": f"No course '{course_id}' found for enrollment"})
        username = body.get("user") or requester
        is_active = body.get("is_active")
        if is_active is not None and not isinstance(is_active, bool):
            raise _Reply(
                400, {"message": f"'{is_active}' is an invalid enrollment activation status."}
            )
        force = body.get("force_enrollment")
        if force is not None and not isinstance(force, bool):
            raise _Reply(400, {"message": f"'{force}' is an invalid force enrollment status."})
        mode = body.get("mode") or "audit"
        with state.lock:
            if username not in state.users:
                if not state.auto_users:
                    raise _Reply(406, {"message": f"The user {username} does not exist."})
                state.users.add(username)
            run = state.runs[key]
            if mode not in run["modes"]:
                raise _Reply(
                    400,
                    {
                        "message": f"The [{mode}] course mode is expired or otherwise "
                        f"unavailable for course run [{key}]."
                    },
                )
            enrollment = state.enrollments.get((username, key))
            if enrollment is None:
                enrollment = state.enrollments[(username, key)] = {
                    "created": _iso(dt.datetime.now(dt.UTC)),
                    "user": username,
                    "course_details": {"course_id": key, "course_name": run["title"]},
                }
            enrollment["mode"] = mode
            enrollment["is_active"] = True if is_active is None else is_active
            return dict(enrollment)

    # -- control ---------------------------------------------------------------------------------

    def _answer_control(self, method: str, path: str, body: bytes) -> None:
        state = self.server.standin.state
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            data = self._json(body) if method == "POST" else {}
            if not isinstance(data, dict):
                raise _Reply(400, {"detail": "Send a JSON object."})
            if (method, action) == ("GET", "state"):
                self._send(200, state.snapshot())
            elif (method, action) == ("POST", "faults"):
                mode = str(data.get("mode", ""))
                count = data.get("count", 1)
                if mode not in FAULT_MODES or not isinstance(count, int) or count < 1:
                    raise _Reply(
                        400,
                        {
                            "detail": f"mode must be one of {', '.join(FAULT_MODES)} "
                            "and count a whole number of at least 1."
                        },
                    )
                fault = _Fault(
                    mode, count, str(data.get("path", "")), str(data.get("method", "")).upper()
                )
                with state.lock:
                    state.faults.append(fault)
                self._send(201, vars(fault))
            elif (method, action) == ("POST", "expire-tokens"):
                after = data.get("after_requests", 0)
                if not isinstance(after, int) or after < 0:
                    raise _Reply(400, {"detail": "after_requests must be a whole number ≥ 0."})
                with state.lock:
                    if after == 0:
                        state.revoked |= state.issued
                        state.expire_countdown = None
                    else:
                        state.expire_countdown = after
                self._send(200, {"after_requests": after})
            elif (method, action) == ("POST", "courses"):
                key = _course_key(str(data.get("id", "")))
                if key is None or not data.get("title"):
                    raise _Reply(400, {"detail": "Give id (a course run key) and title."})
                with state.lock:
                    state.add_run(
                        key,
                        title=str(data["title"]),
                        self_paced=data.get("pacing_type") == "self_paced",
                        schedule=data.get("schedule"),
                        modes=data.get("modes"),
                        team=data.get("team"),
                    )
                    self._send(201, state.run_json(key))
            elif (method, action) == ("POST", "users"):
                username = str(data.get("username", "")).strip()
                if not username:
                    raise _Reply(400, {"detail": "Give username."})
                with state.lock:
                    state.users.add(username)
                self._send(201, {"username": username})
            elif (method, action) == ("POST", "config"):
                with state.lock:
                    for name, kind in state.CONFIG:
                        if name in data:
                            value = data[name]
                            if kind is float and isinstance(value, int):
                                value = float(value)
                            if not isinstance(value, kind):
                                raise _Reply(400, {"detail": f"{name} must be a {kind.__name__}."})
                            setattr(state, name, value)
                self._send(200, state.snapshot()["config"])
            elif (method, action) == ("POST", "reset"):
                state.reset()
                self._send(200, {"reset": True})
            else:
                raise _Reply(404, {"detail": "Not found."})
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandinServer


class StandinServer:
    """The stand-in: ``start()`` serves in a background thread, ``serve_forever()`` in this one.

    ``port=0`` takes a free port; ``url`` (the LMS) and ``studio_url`` say where it listens.
    ``seed`` maps run keys to ``add_run`` arguments (``catalog_seed()`` makes one from a catalog).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        service_username: str = DEFAULT_SERVICE_USERNAME,
        token_lifetime: int = 3600,
        seed: dict[str, dict[str, Any]] | None = None,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.state = StandinState(
            client_id,
            client_secret,
            service_username,
            token_lifetime=token_lifetime,
            seed=dict(seed or {}),
        )
        self.state.reset()
        self.signing_key = OctKey.import_key(secrets.token_bytes(32))
        self.on_request = on_request
        self.stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.standin = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def studio_url(self) -> str:
        return f"{self.url}{STUDIO_PREFIX}"

    def start(self) -> StandinServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="openedx-standin", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class StandinControl:
    """The control API of a running stand-in, from Python (tests, a shell)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _post(self, action: str, payload: dict[str, Any] | None = None) -> Any:
        response = requests.post(
            f"{self.url}{CONTROL_PREFIX}{action}", json=payload or {}, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}{CONTROL_PREFIX}state", timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def fail(self, mode: str, count: int = 1, *, path: str = "", method: str = "") -> None:
        self._post("faults", {"mode": mode, "count": count, "path": path, "method": method})

    def expire_tokens(self, *, after_requests: int = 0) -> None:
        self._post("expire-tokens", {"after_requests": after_requests})

    def add_run(self, key: str, title: str, **extra: Any) -> dict[str, Any]:
        return self._post("courses", {"id": key, "title": title, **extra})

    def add_user(self, username: str) -> None:
        self._post("users", {"username": username})

    def configure(self, **config: Any) -> dict[str, Any]:
        return self._post("config", config)

    def reset(self) -> None:
        self._post("reset")

    def log(self) -> list[dict[str, Any]]:
        """The request log: ``method``, ``path``, ``status``, ``fault``, ``auth`` (the
        ``Authorization`` scheme) and ``body`` (what was sent; the token secret masked)."""
        return self.state()["requests"]

    def requests(self, *, prefix: str = "") -> list[tuple[str, str, int | None]]:
        """The request log as ``(method, path, status)``, optionally only paths under ``prefix``."""
        return [
            (r["method"], r["path"], r["status"])
            for r in self.state()["requests"]
            if r["path"].startswith(prefix)
        ]
