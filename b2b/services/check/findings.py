"""What ``b2b_check`` reports: the kinds of finding, ``Finding``, ``Repair``, ``CheckResult``,
and the texts they share."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict

from ecommerce.models import (
    Discount,
    Order,
)

ERROR, WARNING, NOTE = "error", "warning", "note"
SEVERITIES = (ERROR, WARNING, NOTE)

#: Every kind of finding, in the order they are reported within a contract.
KINDS = (
    "seats-over-cap",  # error: more attached learners than the learner cap
    "seats-at-cap",  # note: exactly the learner cap
    "codes-count",  # error: usable codes differ from what SPEC §4.3–4.5 asks
    "codes-amount",  # error: usable codes not at the contract price (SPEC §4.6)
    "codes-dates",  # error: usable codes not dated as the contract (SPEC §1)
    "codes-pending",  # error: a code adjustment asked for longer ago than REQUEUE_PENDING_AFTER
    "product-missing",  # error: a contract run with no active product
    "product-price",  # error: a contract run's product not at the contract price (SPEC §4.1)
    "product-removed-run",  # error: an active product for a run no longer on its contract
    "redemption-order",  # error: a redemption whose order is not fulfilled
    "redemption-order-pending",  # warning: a redemption whose order is pending for over an hour
    "redemption-payment",  # error: a fulfilled order whose accepted payment is not its amount in
    # its currency (the gateway's response is checked for both; this finds what slipped past)
    "redemption-enrollment",  # error: a redemption with no enrollment in the run
    "redemption-membership",  # error: a redemption with no membership of the contract
    "code-redeemed-twice",  # error: a one-time code with more than one redemption
    "run-source",  # warning: a contract run whose course has no source run
    "run-dates",  # note: a contract run whose dates differ from the contract's
    "run-edx",  # error: a run created here, pending in Open edX for over an hour, or failed
    "membership-sso",  # warning: an sso membership in an organization without an SSO id (SPEC §6:
    # matched by org key, which the claim allows only without ids; ids are the sturdier match)
    "membership-not-in-force",  # note: memberships of an inactive or ended contract
)

#: A pending Open edX sync or a pending order older than this is stuck (the issue's hour).
STALE_AFTER = dt.timedelta(hours=1)

FINDING_KEYS = ("contract", "kind", "severity", "subject", "expected", "found", "fix")

ONE_TIME = Discount.RedemptionType.ONE_TIME
UNLIMITED = Discount.RedemptionType.UNLIMITED
FULFILLED = Order.State.FULFILLED
PENDING = Order.State.PENDING

# A contract run's tag (SPEC §1): ``YYYY_C<contract id>``.
RUN_TAG = re.compile(r"^\d{4}_C(\d+)$")


class RunRow(TypedDict):
    """A contract run as the checks read it (``runs.runs_read``)."""

    pk: int
    courseware_id: str
    b2b_contract_id: int
    course__readable_id: str
    edx_source_key: str
    edx_status: str
    edx_error: str
    edx_last_attempt_on: dt.datetime | None
    updated_on: dt.datetime
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    has_source: bool


class ProductRow(TypedDict):
    """A contract run's active product as the checks read it (``runs.products_read``)."""

    pk: int
    course_run_id: int
    price: Decimal


@dataclass(frozen=True)
class Repair:
    """A safe repair: ``action`` ``codes`` (re-run the code adjustment of contract ``target``),
    ``edx`` (re-queue the Open edX sync of run ``target``) or ``deactivate`` (take product
    ``target`` off sale with its usable codes)."""

    action: str
    target: int
    contract: int | None
    label: str


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing) about a contract; ``contract`` is None for a product of
    a removed run whose contract cannot be told from its key. ``repair`` is set when ``--fix``
    can mend it."""

    contract: int | None
    kind: str
    severity: str
    subject: str
    expected: str
    found: str
    fix: str
    repair: Repair | None = field(default=None, compare=False)

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FINDING_KEYS}


@dataclass
class CheckResult:
    """The findings over the contracts checked (``contract_ids``), ordered by contract and kind."""

    contract_ids: list[int]
    findings: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    def summary(self) -> str:
        contracts = len(self.contract_ids)
        return (
            f"Checked {contracts} contract{'s' if contracts != 1 else ''}: "
            f"{self.errors} error(s), {self.count(WARNING)} warning(s), {self.count(NOTE)} note(s)."
        )


def money_text(value: Decimal | None) -> str:
    """An amount as ``"10.00"`` (None as ``"0.00"``)."""
    return f"{(value or Decimal('0.00')):.2f}"


def when_text(value: dt.datetime | None) -> str:
    """A date and time in ISO 8601, or ``"none"``."""
    return value.isoformat() if value else "none"


def fix_command(contract_id: int) -> str:
    """The command that repairs what ``--fix`` can repair on this contract."""
    return f"b2b_check --contract {contract_id} --fix"


def codes_label(contract_id: int) -> str:
    """How a code-adjustment repair of this contract is named in ``--fix``'s plan."""
    return (
        f"re-run the code adjustment of contract {contract_id} (products and codes follow its "
        "price, dates and cap)"
    )
