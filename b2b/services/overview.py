"""A contract at a glance, for staff: its courseware, learners against the cap, and its codes.

The Wagtail contract editor and the Django Admin contract page show it. A fixed number of queries
whatever the number of runs, learners or codes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from wagtail.models import PageLogEntry

from b2b.models import ContractMembership, ContractPage
from b2b.services.audit import PREFIX
from b2b.services.listing import courseware_list
from ecommerce.models import Discount, DiscountRedemption


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


@dataclass(frozen=True)
class ActivityDay:
    """One day of a contract's activity: codes redeemed and learners attached that day (any
    source), counted in the site's ``TIME_ZONE``."""

    day: dt.date
    redemptions: int
    attachments: int


def contract_activity(contract_id: int) -> list[ActivityDay]:
    """The days on which the contract's codes were redeemed or learners attached (any source,
    from its audit trail, so a learner detached since still counts), oldest first, with that
    day's counts (two grouped queries, whatever the number of rows)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    redemptions = dict(
        DiscountRedemption.objects.filter(
            redeemed_discount__product_links__product__course_run__b2b_contract_id=contract_id
        )
        .annotate(day=TruncDate("redemption_date", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("pk", distinct=True))
        .order_by()
    )
    # Attachments as the audit trail recorded them: a learner detached since still counts.
    attachments = dict(
        PageLogEntry.objects.filter(page_id=contract_id, action=PREFIX + "membership.add")
        .annotate(day=TruncDate("timestamp", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        ActivityDay(day, redemptions.get(day, 0), attachments.get(day, 0))
        for day in sorted(set(redemptions) | set(attachments))
    ]
