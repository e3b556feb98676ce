"""The Open edX integration's refusals and failures; each has a stable ``code`` (SPEC §8)."""

from __future__ import annotations

from main.exceptions import DomainError, NotFoundError


class EdxNotConfigured(DomainError):
    """An edX operation asked for while the ``OPENEDX_*`` settings are not all set."""

    code = "edx-not-configured"


class EdxError(DomainError):
    """An edX request that did not succeed. ``status`` is the HTTP status of the last answer
    (None when there was none: a timeout or a connection error); ``attempts`` how many times the
    request was sent."""

    code = "edx-error"

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class EdxUnavailable(EdxError):
    """Timeouts, connection errors or 5xx answers every time, until the retries ran out.
    Transient: trying again later (``b2b_courseware sync-edx``) may succeed."""

    code = "edx-unavailable"


class EdxRefused(EdxError):
    """A 4xx answer: edX refused the request as it is; sending it again will not help."""

    code = "edx-refused"


class EdxAuthFailed(EdxRefused):
    """The token endpoint refused the service account's credentials, or a fresh token was
    refused too (the account lacks the rights)."""

    code = "edx-auth-failed"


class EdxRecordNotFound(NotFoundError):
    """A run or enrollment ID that names nothing (deleted before its task ran)."""

    code = "edx-record-not-found"
