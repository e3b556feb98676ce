"""Organizations and contracts (Wagtail pages), what is on a contract, and who is attached to it.

SPEC §1: an organization is an ``OrganizationPage`` under the single "Organizations" index under
Home; a contract is a ``ContractPage`` whose parent is its organization. ``active`` and the dates,
not Wagtail's publish state, decide whether a contract is in force.
"""

from b2b.models.contract import (
    ContractCodesLock,
    ContractCodesPending,
    ContractCourseware,
    ContractMembership,
)
from b2b.models.pages import (
    ZERO,
    ContractPage,
    ContractTerms,
    NoUnpublish,
    OrganizationIndexPage,
    OrganizationPage,
    RecordedPage,
    StaffOnlyPage,
)
from b2b.models.seats import OrganizationManager, SeatAssignment, SeatAssignmentCode

__all__ = [
    "ContractCodesLock",
    "ContractCodesPending",
    "ContractCourseware",
    "ContractMembership",
    "ContractPage",
    "ContractTerms",
    "NoUnpublish",
    "OrganizationIndexPage",
    "OrganizationManager",
    "OrganizationPage",
    "RecordedPage",
    "SeatAssignment",
    "SeatAssignmentCode",
    "StaffOnlyPage",
    "ZERO",
]
