"""The stand-in's control API (``/_standin/``), and ``StandinControl``, its client from Python.

For tests and operators; no authentication, so the stand-in binds to loopback. ``GET state``
what it holds (runs, enrollments, users, tokens issued, the request log, pending faults);
``POST faults`` ``{"mode": "500"|"timeout"|"timeout-after", "count": N, "path": prefix,
"method": M}`` fails the next N matching requests (``timeout`` holds the request unanswered and
does nothing; ``timeout-after`` does the work, then never answers); ``POST expire-tokens``
``{"after_requests": N}`` expires every token issued so far after N more authorized requests;
``POST courses`` adds a run; ``POST users`` adds an LMS user; ``POST config`` sets
``token_lifetime``, ``auto_users``, ``latency``, ``stall_seconds``; ``POST reset`` forgets all
but the seeded runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from openedx.standin.state import FAULT_MODES, Fault, Reply, StandinState, course_key

CONTROL_PREFIX = "/_standin/"


def control_answer(state: StandinState, method: str, action: str, data: Any) -> tuple[int, Any]:
    """The status and body answering ``method`` on ``/_standin/<action>`` with the JSON
    ``data`` ({} for a GET); ``Reply`` for a refusal (400) or an unknown action (404)."""
    if not isinstance(data, dict):
        raise Reply(400, {"detail": "Send a JSON object."})
    answer = _ACTIONS.get((method, action))
    if answer is None:
        raise Reply(404, {"detail": "Not found."})
    return answer(state, data)


def _state(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    return 200, state.snapshot()


def _faults(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    mode = str(data.get("mode", ""))
    count = data.get("count", 1)
    if mode not in FAULT_MODES or not isinstance(count, int) or count < 1:
        raise Reply(
            400,
            {
                "detail": f"mode must be one of {', '.join(FAULT_MODES)} "
                "and count a whole number of at least 1."
            },
        )
    fault = Fault(mode, count, str(data.get("path", "")), str(data.get("method", "")).upper())
    with state.lock:
        state.faults.append(fault)
    return 201, vars(fault)


def _expire_tokens(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    after = data.get("after_requests", 0)
    if not isinstance(after, int) or after < 0:
        raise Reply(400, {"detail": "after_requests must be a whole number ≥ 0."})
    with state.lock:
        if after == 0:
            state.revoked |= state.issued
            state.expire_countdown = None
        else:
            state.expire_countdown = after
    return 200, {"after_requests": after}


def _courses(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    key = course_key(str(data.get("id", "")))
    if key is None or not data.get("title"):
        raise Reply(400, {"detail": "Give id (a course run key) and title."})
    with state.lock:
        state.add_run(
            key,
            title=str(data["title"]),
            self_paced=data.get("pacing_type") == "self_paced",
            schedule=data.get("schedule"),
            modes=data.get("modes"),
            team=data.get("team"),
        )
        return 201, state.run_json(key)


def _users(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    username = str(data.get("username", "")).strip()
    if not username:
        raise Reply(400, {"detail": "Give username."})
    with state.lock:
        state.users.add(username)
    return 201, {"username": username}


def _config(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    with state.lock:
        for name, kind in state.CONFIG:
            if name in data:
                value = data[name]
                if kind is float and isinstance(value, int):
                    value = float(value)
                if not isinstance(value, kind):
                    raise Reply(400, {"detail": f"{name} must be a {kind.__name__}."})
                setattr(state, name, value)
    return 200, state.snapshot()["config"]


def _reset(state: StandinState, data: dict[str, Any]) -> tuple[int, Any]:
    state.reset()
    return 200, {"reset": True}


_ACTIONS: dict[tuple[str, str], Callable[[StandinState, dict[str, Any]], tuple[int, Any]]] = {
    ("GET", "state"): _state,
    ("POST", "faults"): _faults,
    ("POST", "expire-tokens"): _expire_tokens,
    ("POST", "courses"): _courses,
    ("POST", "users"): _users,
    ("POST", "config"): _config,
    ("POST", "reset"): _reset,
}


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
