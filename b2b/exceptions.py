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


class AlreadyAttached(ConflictError):
    """The learner already has a membership of the contract (one per learner per contract)."""

    code = "already-attached"


class PageInUse(ConflictError):
    """An organization or contract page cannot be deleted, moved or copied as asked (SPEC §7)."""

    code = "page-in-use"


class OrganizationKeyFixed(ConflictError):
    """The org key is part of the organization's contract run keys, so it cannot change."""

    code = "org-key-fixed"


def as_domain_error(exc: ValidationError) -> InvalidContractInput:
    """A Django ``ValidationError`` from the shared validators, as one readable refusal."""
    return InvalidContractInput(" ".join(exc.messages))


class ContractInactive(ConflictError):
    """The contract is deactivated or outside its dates: its codes cannot be used (SPEC §5)."""

    code = "contract-inactive"


class ContractFull(ConflictError):
    """The contract's learner cap is reached: no new learner can be attached (SPEC §5)."""

    code = "contract-full"


class ContractEnded(DomainError):
    """Runs cannot be made for a contract whose end date has passed."""

    code = "contract-ended"


class CodeAssignedElsewhere(ConflictError):
    """The enrollment code is held by a seat assigned to another email (SPEC §9): only the
    learner whose verified email it was assigned to may use it."""

    code = "code-assigned-elsewhere"


class AssignmentNotFound(NotFoundError):
    """No open seat assignment of the contract for that email."""

    code = "assignment-not-found"


class RemindedRecently(ConflictError):
    """A seat's invitation was sent less than a day ago: reminders go at most once a day."""

    code = "reminded-recently"
