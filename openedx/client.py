"""The Open edX client of the courses service account (SPEC §8): Studio's course-runs API and
the LMS enrollment API.

How it authenticates, retries and reads errors is ``openedx.transport``'s: a JWT from the
client-credentials grant, timeouts, retries with backoff for what may pass (then
``EdxUnavailable``), one new token after a 401. A 4xx answer is final here and raises
``EdxRefused``.

One client per process (``edx_client()``), so the token is shared by every task the process runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from openedx.config import EdxConfig
from openedx.exceptions import EdxRefused
from openedx.transport import ServiceAccountTransport, error_summary

__all__ = ["EdxClient", "EdxConfig", "edx_client", "edx_client_reset"]

COURSE_RUNS_PATH = "/api/v1/course_runs/"
ENROLLMENT_PATH = "/api/enrollment/v1/enrollment"
# Studio's answer to a clone whose destination is there already (a 400): the run exists.
DESTINATION_EXISTS = "Destination course already exists."


def _body_messages(response: requests.Response) -> list[str]:
    """DRF's ``non_field_errors`` of a 400, the list Studio's clone validation answers with."""
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, dict) and isinstance(body.get("non_field_errors"), list):
        return [str(message) for message in body["non_field_errors"]]
    return []


class EdxClient:
    """Studio's course-runs API and the LMS enrollment API, as the service account.

    Methods raise ``EdxUnavailable`` (retries ran out), ``EdxRefused`` (a final 4xx) or
    ``EdxAuthFailed`` (credentials or rights refused). ``sleep`` waits between retries.
    """

    def __init__(self, config: EdxConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._transport = ServiceAccountTransport(config, sleep=sleep)
        self._request = self._transport.request

    # -- the API -------------------------------------------------------------------------------

    def course_run_get(self, key: str) -> dict[str, Any]:
        """``GET {studio}/api/v1/course_runs/{key}/``: the run (``id``, ``title``, ``schedule``,
        ``pacing_type``, ``team``). A 404 raises ``EdxRefused`` with status 404."""
        what = f"Studio GET course run {key}"
        response = self._request(what, "GET", self._course_run_url(key))
        if response.status_code != 200:
            raise self._refused(what, response)
        return _json(response)

    def course_run_clone(self, *, source_key: str, destination_key: str) -> bool:
        """``POST {studio}/api/v1/course_runs/clone/``: copy the source run to a new key.

        True when Studio cloned it now (201); False when the destination was there already
        (400 "Destination course already exists."), which counts as done. Any other 4xx (for
        example 400 "Source course does not exist.") raises ``EdxRefused``.
        """
        what = f"Studio clone of {source_key} into {destination_key}"
        response = self._request(
            what,
            "POST",
            f"{self.config.studio_url}{COURSE_RUNS_PATH}clone/",
            json={"source_course_id": source_key, "destination_course_id": destination_key},
        )
        if response.status_code in (200, 201):
            return True
        if response.status_code == 400 and DESTINATION_EXISTS in _body_messages(response):
            return False
        raise self._refused(what, response)

    def course_run_update(
        self, key: str, *, title: str, self_paced: bool, schedule: dict[str, str | None]
    ) -> dict[str, Any]:
        """``PATCH {studio}/api/v1/course_runs/{key}/`` with ``title``, ``pacing_type`` and
        ``schedule`` (ISO 8601 ``start``, ``end``, ``enrollment_start``, ``enrollment_end``).

        Always PATCH, never PUT: a PUT without ``team`` empties the run's course team. Keys of
        ``schedule`` whose value is None are left out for ``start``/``end`` (Studio refuses a
        null there) and sent as null for the enrollment dates. A 404 raises ``EdxRefused``.
        """
        body_schedule = {
            name: value
            for name, value in schedule.items()
            if value is not None or name in ("enrollment_start", "enrollment_end")
        }
        what = f"Studio PATCH course run {key}"
        response = self._request(
            what,
            "PATCH",
            self._course_run_url(key),
            json={
                "title": title,
                "pacing_type": "self_paced" if self_paced else "instructor_paced",
                "schedule": body_schedule,
            },
        )
        if response.status_code != 200:
            raise self._refused(what, response)
        return _json(response)

    def enrollment_create(
        self, *, username: str, course_key: str, mode: str, is_active: bool = True
    ) -> dict[str, Any]:
        """``POST {lms}/api/enrollment/v1/enrollment``: enroll ``username`` in the run.

        Sent server to server: ``user`` names the learner, and ``force_enrollment`` lets a
        staff service account enroll outside the run's enrollment dates (the decision to enroll
        was taken here, at checkout). Idempotent in the LMS: an existing enrollment answers 200
        with its data. 4xx (400 unknown course or mode, 406 unknown user) raise ``EdxRefused``.
        """
        what = f"LMS enrollment of {username} in {course_key}"
        response = self._request(
            what,
            "POST",
            f"{self.config.lms_url}{ENROLLMENT_PATH}",
            json={
                "user": username,
                "mode": mode,
                "is_active": is_active,
                "course_details": {"course_id": course_key},
                "force_enrollment": True,
            },
        )
        if response.status_code not in (200, 201):
            raise self._refused(what, response)
        return _json(response)

    def _course_run_url(self, key: str) -> str:
        return f"{self.config.studio_url}{COURSE_RUNS_PATH}{quote(key, safe=':+')}/"

    def _refused(self, what: str, response: requests.Response) -> EdxRefused:
        return EdxRefused(
            f"{what} refused ({response.status_code}): {error_summary(response)}",
            status=response.status_code,
        )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


_clients: dict[EdxConfig, EdxClient] = {}
_clients_lock = threading.Lock()


def edx_client() -> EdxClient:
    """The process's client for the current settings (``EdxNotConfigured`` when unset).

    Kept per process so that one token serves every run and enrollment until it is about to
    expire; a change of settings gets a new client (and a new token).
    """
    config = EdxConfig.from_settings()
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            _clients.clear()
            client = _clients[config] = EdxClient(config)
        return client


def edx_client_reset() -> None:
    """Forget the process's client and its token (tests; a rotated secret)."""
    with _clients_lock:
        _clients.clear()
