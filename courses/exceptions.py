"""The catalog's refusals about enrollments; each ``code`` is stable (ARCHITECTURE, rule 5)."""

from main.exceptions import ConflictError, NotFoundError


class AlreadyEnrolled(ConflictError):
    """The learner is already enrolled in the run: a second code would be wasted (SPEC §5)."""

    code = "already-enrolled"


class RunNotFound(NotFoundError):
    code = "run-not-found"


class RunNotEnrollable(ConflictError):
    """A run that is not open for enrollment (not live, a source run, outside its dates)."""

    code = "run-not-enrollable"
