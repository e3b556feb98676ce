"""A contract at a glance, for staff: its courseware, learners against the cap, and its codes.

The Wagtail contract editor and the Django Admin contract page show it. A fixed number of queries
whatever the number of runs, learners or codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from b2b.models import ContractMembership, ContractPage
from b2b.services.listing import courseware_list
from ecommerce.models import Discount


@dataclass(frozen=True)
class CodeCounts:
    """A contract's enrollment codes: ``usable`` (active, unlimited or never redeemed),
    ``redeemed`` (at least one redemption), ``deactivated`` (not active). An unlimited code that
    has been used counts as usable and redeemed."""

    usable: int = 0
    redeemed: int = 0
    deactivated: int = 0
    total: int = 0


@dataclass
class ContractOverview:
    contract: ContractPage
    learners: int
    codes: CodeCounts
    courseware: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cap(self) -> int | None:
        return self.contract.max_learners

    @property
    def learners_text(self) -> str:
        """``"120 of 200 learners"`` or ``"120 learners (uncapped)"``."""
        if self.cap is None:
            return f"{self.learners} learner{'s' if self.learners != 1 else ''} (uncapped)"
        return f"{self.learners} of {self.cap} learners"

    @property
    def full(self) -> bool:
        return self.cap is not None and self.learners >= self.cap


def contract_codes(contract_id: int) -> Any:
    """The enrollment codes of the contract's runs' products (a ``Discount`` queryset)."""
    return Discount.objects.filter(product_links__product__course_run__b2b_contract_id=contract_id)


def code_counts(contract_id: int) -> CodeCounts:
    """The contract's codes counted by state, in three queries."""
    codes = contract_codes(contract_id)
    counts = codes.aggregate(total=Count("pk"), deactivated=Count("pk", filter=Q(is_active=False)))
    return CodeCounts(usable=codes.usable().count(), redeemed=codes.redeemed().count(), **counts)


def contract_overview(contract: ContractPage) -> ContractOverview:
    """What the staff pages show about ``contract`` (a saved contract)."""
    return ContractOverview(
        contract=contract,
        learners=ContractMembership.objects.filter(contract_id=contract.pk).count(),
        codes=code_counts(contract.pk),
        courseware=courseware_list(contract.pk),
    )
