"""The one exception tree of the project (ARCHITECTURE, rule 5).

Services raise a ``DomainError`` subclass with a stable machine-readable ``code``; interfaces turn
it into a ``CommandError`` (commands), a message or an HTTP 4xx (views). Nothing else is caught.
"""


class DomainError(Exception):
    """A refusal by a service: ``code`` is stable (for scripts and pages), ``message`` says how
    to fix it."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFoundError(DomainError):
    """An ID or key that names nothing."""

    code = "not-found"


class ValidationFailed(DomainError):
    """Input that breaks a rule of the spec (a date, a price, a key format...)."""

    code = "invalid"


class ConflictError(DomainError):
    """A request that clashes with what is already there (a duplicate key, a run already taken)."""

    code = "conflict"


class TooManyAttempts(DomainError):
    """Too many tries in too short a time (a rate limit): HTTP 429, ``retry_after`` seconds to
    wait (the ``Retry-After`` header)."""

    code = "too-many-attempts"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
