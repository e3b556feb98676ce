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

By protocol area: ``oauth`` (the token and its check), ``lms`` (enrollments), ``studio`` (course
runs), ``control`` (the control API and ``StandinControl``), ``state`` (what it holds, faults
included), ``server`` (HTTP: routing, faults applied, the request log).
"""

from openedx.standin.control import StandinControl
from openedx.standin.server import StandinServer
from openedx.standin.state import (
    DEFAULT_CATALOG,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SERVICE_USERNAME,
    StandinState,
    catalog_seed,
)

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_SERVICE_USERNAME",
    "StandinControl",
    "StandinServer",
    "StandinState",
    "catalog_seed",
]
