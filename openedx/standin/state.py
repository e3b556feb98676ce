"""What the Open edX stand-in holds, and the shapes its protocol modules share: runs, enrollments,
users, tokens issued, pending faults and the request log, all behind one lock."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

DEFAULT_CLIENT_ID = "standin-client"
DEFAULT_CLIENT_SECRET = "standin-secret"
DEFAULT_SERVICE_USERNAME = "b2b-service-worker"
DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "courses" / "data" / "catalog.json"
# What Studio gives a run cloned without dates (xmodule's default course start).
CLONE_DEFAULT_START = "2030-01-01T00:00:00Z"
FAULT_MODES = ("500", "timeout", "timeout-after")
DATETIME_FORMAT_ERROR = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)


class Reply(Exception):
    """Answer the request now with ``status`` and ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def iso(value: dt.datetime | None) -> str | None:
    """A date-time as edX writes it: UTC, to the second, with a ``Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> dt.datetime:
    """An ISO 8601 date-time as DRF reads it (UTC when no offset); ``ValueError`` in DRF's words."""
    if not isinstance(value, str):
        raise ValueError(DATETIME_FORMAT_ERROR)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(DATETIME_FORMAT_ERROR) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def course_key(text: str) -> str | None:
    """The canonical course run key, or None for text that is not one."""
    try:
        return str(CourseKey.from_string(text))
    except InvalidKeyError:
        return None


@dataclass
class Fault:
    """A failure to inject: the next ``remaining`` requests matching ``path`` (a prefix) and
    ``method`` (any when empty) fail by ``mode`` (``FAULT_MODES``)."""

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
    faults: list[Fault] = field(default_factory=list)
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
                "start": iso(run["start"]),
                "end": iso(run["end"]),
                "enrollment_start": iso(run["enrollment_start"]),
                "enrollment_end": iso(run["enrollment_end"]),
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
            "start": parse_datetime(schedule["start"]) if schedule.get("start") else None,
            "end": parse_datetime(schedule["end"]) if schedule.get("end") else None,
            "enrollment_start": (
                parse_datetime(schedule["enrollment_start"])
                if schedule.get("enrollment_start")
                else None
            ),
            "enrollment_end": (
                parse_datetime(schedule["enrollment_end"])
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
            key = course_key(run["courseware_id"])
            if key:
                seed[key] = {"title": course["title"]}
    return seed
