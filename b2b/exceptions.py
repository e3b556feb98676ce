"""The b2b app's refusals; each has a stable ``code`` (ARCHITECTURE, rule 5)."""

from django.core.exceptions import ValidationError

from main.exceptions import ConflictError, DomainError, NotFoundError, ValidationFailed


class OrganizationNotFound(NotFoundError):
    code = "organization-not-found"


class ContractNotFound(NotFoundError):
    code = "contract-not-found"


class CoursewareNotFound(NotFoundError):
    code = "courseware-not-found"


class InvalidContractInput(ValidationFailed):
    code = "invalid-input"


class OrganizationConflict(ConflictError):
    code = "organization-conflict"


class RunTaken(ConflictError):
    code = "run-taken"


class NoSourceRun(DomainError):
    code = "no-source-run"


def as_domain_error(exc: ValidationError) -> InvalidContractInput:
    """A Django ``ValidationError`` from the shared validators, as one readable refusal."""
    return InvalidContractInput(" ".join(exc.messages))
