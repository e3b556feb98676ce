"""Whether every contract is whole, and the safe repairs (``manage.py b2b_check``).

``contracts_check`` reads a fixed number of set-based queries (aggregates grouped by contract or
product), whatever the number of codes and learners, and returns ``Finding`` objects. Each names
its contract, a ``kind`` (``KINDS``), a severity (``error``, ``warning``, ``note``), what was
expected, what was found, and the command that fixes it. ``repairs_plan`` turns the findings into
the safe repairs and ``repairs_apply`` carries them out: re-run the code adjustment (SPEC §4,
which re-prices products and codes), re-queue Open edX syncs (SPEC §8), deactivate the products
of runs no longer on a contract (SPEC §2 ``remove``). Nothing here deletes a redemption, an
enrollment or a membership.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q
from django.utils import timezone

from b2b.exceptions import OrganizationNotFound
from b2b.models import ContractCourseware, ContractMembership, ContractPage, OrganizationPage
from b2b.services.codes import codes_deactivate_for_products, codes_target
from b2b.services.codes_pending import codes_pending_overdue
from b2b.services.contracts import contract_get
from b2b.services.courseware import courseware_course_ids
from courses.models import CourseRun, CourseRunEnrollment, EdxStatus
from ecommerce.models import (
    Discount,
    DiscountProduct,
    DiscountRedemption,
    Order,
    Product,
    Transaction,
    code_redeemed,
    code_usable,
)
from ecommerce.services.payments import ACCEPT, CURRENCY

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
_RUN_TAG = re.compile(r"^\d{4}_C(\d+)$")


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


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal('0.00')):.2f}"


def _when(value: dt.datetime | None) -> str:
    return value.isoformat() if value else "none"


def _fix_cmd(contract_id: int) -> str:
    return f"b2b_check --contract {contract_id} --fix"


def _scope(contract_id: int | None, organization_id: int | None) -> list[ContractPage]:
    queryset = ContractPage.objects.select_related("organization").order_by("pk")
    if contract_id is not None:
        return [contract_get(contract_id)]
    if organization_id is not None:
        if not OrganizationPage.objects.filter(pk=organization_id).exists():
            raise OrganizationNotFound(
                f"No organization with ID {organization_id}: `manage.py b2b_list organizations` "
                "lists them."
            )
        queryset = queryset.filter(organization_id=organization_id)
    return list(queryset)


def contracts_check(
    *, contract_id: int | None = None, organization_id: int | None = None
) -> CheckResult:
    """Check the contracts (one, an organization's, or all) against SPEC §1, §4, §5 and §8.

    Raises ``ContractNotFound`` / ``OrganizationNotFound`` for unknown IDs. Reads only: a fixed
    number of queries (about a dozen), aggregated in the database, whatever the number of codes,
    learners or redemptions; rows fetched grow with contracts, runs and products, and with the
    distinct (amount, dates, type) combinations of a product's codes, never with the codes.
    """
    contracts = _scope(contract_id, organization_id)
    by_id = {c.pk: c for c in contracts}
    result = CheckResult(contract_ids=list(by_id))
    findings: list[Finding] = []
    now = timezone.now()
    stale = now - STALE_AFTER
    ids = list(by_id)
    if ids:
        findings += _memberships(by_id, now)
        runs = _runs(ids)
        products = _products(ids)
        findings += _products_findings(by_id, runs, products)
        findings += _codes(by_id, runs, products)
        findings += _codes_pending(by_id, now)
        findings += _redemptions(ids, stale)
        findings += _runs_findings(by_id, runs, stale)
    findings += _removed_run_products(
        set(ids), unscoped=contract_id is None and organization_id is None
    )
    order = {kind: n for n, kind in enumerate(KINDS)}
    findings.sort(key=lambda f: (f.contract or 0, order[f.kind], f.subject))
    result.findings = findings
    return result


# -- seats and memberships -----------------------------------------------------------------------


def _memberships(by_id: dict[int, ContractPage], now: dt.datetime) -> list[Finding]:
    rows = (
        ContractMembership.objects.filter(contract_id__in=list(by_id))
        .values("contract_id")
        .annotate(
            total=Count("pk"),
            sso_without_id=Count(
                "pk",
                filter=Q(
                    source=ContractMembership.Source.SSO,
                    contract__organization__sso_organization_id__isnull=True,
                ),
            ),
        )
        .order_by()
    )
    findings = []
    for row in rows:
        contract = by_id[row["contract_id"]]
        total, cap = row["total"], contract.max_learners
        if cap is not None and total > cap:
            findings.append(
                Finding(
                    contract.pk,
                    "seats-over-cap",
                    ERROR,
                    "learners",
                    f"at most {cap} attached learners",
                    f"{total} attached learners",
                    f"b2b_contract modify {contract.pk} --max-learners {total} (or detach "
                    "learners in the Django Admin)",
                )
            )
        elif cap is not None and total == cap:
            findings.append(
                Finding(
                    contract.pk,
                    "seats-at-cap",
                    NOTE,
                    "learners",
                    f"at most {cap} attached learners",
                    f"{total} attached learners: no seat left",
                    f"b2b_contract modify {contract.pk} --max-learners N to make room",
                )
            )
        if row["sso_without_id"]:
            org = contract.organization
            findings.append(
                Finding(
                    contract.pk,
                    "membership-sso",
                    WARNING,
                    "memberships",
                    f"sso memberships matched by organization {org.pk}'s SSO organization ID",
                    f"{row['sso_without_id']} sso memberships, no SSO organization ID (matched "
                    "by org key, from a claim without ids)",
                    f"manage.py b2b_organization modify {org.pk} --sso-id <the realm's "
                    "organization id>",
                )
            )
        if not contract.is_in_force(now):
            why = "inactive" if not contract.active else "outside its dates"
            findings.append(
                Finding(
                    contract.pk,
                    "membership-not-in-force",
                    NOTE,
                    "memberships",
                    "learners attached to a contract in force",
                    f"{total} attached learners; the contract is {why}",
                    f"b2b_contract modify {contract.pk} --active / --end YYYY-MM-DD if it "
                    "should be in force",
                )
            )
    return findings


# -- runs and products ---------------------------------------------------------------------------


def _runs(ids: list[int]) -> list[dict[str, Any]]:
    has_source = Exists(
        CourseRun.objects.filter(course_id=OuterRef("course_id"), is_source_run=True)
    )
    return list(
        CourseRun.objects.filter(b2b_contract_id__in=ids)
        .annotate(has_source=has_source)
        .values(
            "pk",
            "courseware_id",
            "b2b_contract_id",
            "course__readable_id",
            "edx_source_key",
            "edx_status",
            "edx_error",
            "edx_last_attempt_on",
            "updated_on",
            "start_date",
            "end_date",
            "has_source",
        )
        .order_by("pk")
    )


def _products(ids: list[int]) -> dict[int, dict[str, Any]]:
    """The active product of each contract run, by run ID."""
    return {
        row["course_run_id"]: row
        for row in Product.objects.filter(course_run__b2b_contract_id__in=ids, is_active=True)
        .values("pk", "course_run_id", "price")
        .order_by()
    }


def _products_findings(
    by_id: dict[int, ContractPage], runs: list[dict[str, Any]], products: dict[int, dict]
) -> list[Finding]:
    findings = []
    for run in runs:
        contract = by_id[run["b2b_contract_id"]]
        product = products.get(run["pk"])
        if product is None:
            findings.append(
                Finding(
                    contract.pk,
                    "product-missing",
                    ERROR,
                    run["courseware_id"],
                    "one active product",
                    "no active product",
                    "reactivate the run's latest product in the Django Admin (Products), then "
                    f"{_fix_cmd(contract.pk)}",
                )
            )
        elif product["price"] != contract.price:
            findings.append(
                Finding(
                    contract.pk,
                    "product-price",
                    ERROR,
                    f"product {product['pk']} ({run['courseware_id']})",
                    _money(contract.price),
                    _money(product["price"]),
                    _fix_cmd(contract.pk),
                    Repair("codes", contract.pk, contract.pk, _codes_label(contract.pk)),
                )
            )
    return findings


def _removed_run_products(ids: set[int], *, unscoped: bool) -> list[Finding]:
    """Active products of runs that were on a contract and no longer are (SPEC §2 remove).

    The contract is read from the run's tag (``YYYY_C<id>``); a run assigned from the catalog
    has no such tag and is reported without a contract when every contract is checked.
    """
    rows = (
        Product.objects.filter(
            is_active=True, course_run__is_b2b=True, course_run__b2b_contract__isnull=True
        )
        .values("pk", "course_run__courseware_id", "course_run__run_tag", "course_run__course_id")
        .order_by("pk")
    )
    wanted = []
    for row in rows:
        match = _RUN_TAG.match(row["course_run__run_tag"])
        contract_id = int(match.group(1)) if match else None
        if contract_id in ids or (unscoped and contract_id is None):
            wanted.append((row, contract_id))
    listed = _courses_listed({contract_id for _, contract_id in wanted if contract_id is not None})
    findings = []
    for row, contract_id in wanted:
        if row["course_run__course_id"] in listed.get(contract_id, ()):
            # The course is still on the contract: the run left it by some other way than a
            # removal. Switching its codes off would strand the learners who hold them, so a
            # person decides (SPEC §2: only `remove` takes a run's codes out of use).
            findings.append(
                Finding(
                    contract_id,
                    "product-removed-run",
                    ERROR,
                    f"product {row['pk']} ({row['course_run__courseware_id']})",
                    "a run on the contract for each of its courses",
                    "the run is off the contract, its course still on it",
                    f"b2b_courseware add {contract_id} {row['course_run__courseware_id']} puts the "
                    f"run back; b2b_courseware remove {contract_id} <course> takes the course off",
                )
            )
            continue
        fix = (
            _fix_cmd(contract_id)
            if contract_id is not None
            else "b2b_check --fix (deactivates it with its usable codes)"
        )
        findings.append(
            Finding(
                contract_id,
                "product-removed-run",
                ERROR,
                f"product {row['pk']} ({row['course_run__courseware_id']})",
                "no active product for a run off the contract",
                "the product is on sale",
                fix,
                Repair(
                    "deactivate",
                    row["pk"],
                    contract_id,
                    f"deactivate product {row['pk']} ({row['course_run__courseware_id']}, off "
                    "its contract) and its usable codes",
                ),
            )
        )
    return findings


def _courses_listed(contract_ids: set[int]) -> dict[int, set[int]]:
    """The courses each contract lists, directly or through a program (course IDs); one query,
    plus one per listed program."""
    records: dict[int, list[ContractCourseware]] = defaultdict(list)
    if contract_ids:
        for record in ContractCourseware.objects.filter(
            contract_id__in=contract_ids
        ).select_related("program"):
            records[record.contract_id].append(record)
    return {contract_id: courseware_course_ids(rs) for contract_id, rs in records.items()}


def _runs_findings(
    by_id: dict[int, ContractPage], runs: list[dict[str, Any]], stale: dt.datetime
) -> list[Finding]:
    findings = []
    for run in runs:
        contract = by_id[run["b2b_contract_id"]]
        key = run["courseware_id"]
        created_here = bool(run["edx_source_key"])
        if not run["has_source"]:
            findings.append(
                Finding(
                    contract.pk,
                    "run-source",
                    WARNING,
                    key,
                    f"a source run of {run['course__readable_id']}",
                    "no source run",
                    "flag the course's source run is_source_run in the Django Admin, or "
                    "load_catalog",
                )
            )
        if created_here:
            # Runs created for the contract start and end with it (SPEC §3); a run assigned from
            # the catalog keeps its own dates. Edited on purpose happens: a note.
            expected_start = contract.starts_at
            starts = expected_start is None or run["start_date"] == expected_start
            ends = run["end_date"] == contract.ends_at
            if not (starts and ends):
                findings.append(
                    Finding(
                        contract.pk,
                        "run-dates",
                        NOTE,
                        key,
                        f"{_when(expected_start) if expected_start else 'any start'} to "
                        f"{_when(contract.ends_at)}",
                        f"{_when(run['start_date'])} to {_when(run['end_date'])}",
                        "none if edited on purpose; else set the run's dates in the Django Admin",
                    )
                )
            status = run["edx_status"]
            attempted = run["edx_last_attempt_on"] or run["updated_on"]
            stuck = status == EdxStatus.PENDING and attempted < stale
            if status == EdxStatus.FAILED or stuck:
                found = (
                    f"failed: {run['edx_error'] or 'no error recorded'}"
                    if status == EdxStatus.FAILED
                    else f"pending since {_when(attempted)}"
                )
                findings.append(
                    Finding(
                        contract.pk,
                        "run-edx",
                        ERROR,
                        key,
                        "created in Open edX (or pending for less than an hour)",
                        found,
                        f"{_fix_cmd(contract.pk)} (or b2b_courseware sync-edx {contract.pk})",
                        Repair(
                            "edx", run["pk"], contract.pk, f"re-queue the Open edX sync of {key}"
                        ),
                    )
                )
    return findings


# -- codes -----------------------------------------------------------------------------------------


def _codes_label(contract_id: int) -> str:
    return (
        f"re-run the code adjustment of contract {contract_id} (products and codes follow its "
        "price, dates and cap)"
    )


def _codes(
    by_id: dict[int, ContractPage], runs: list[dict[str, Any]], products: dict[int, dict]
) -> list[Finding]:
    """Usable codes per active product against ``codes_target`` (SPEC §4) and the contract's
    price and dates. Two grouped queries."""
    product_contract = {
        products[run["pk"]]["pk"]: by_id[run["b2b_contract_id"]]
        for run in runs
        if run["pk"] in products
    }
    product_run = {
        products[run["pk"]]["pk"]: run["courseware_id"] for run in runs if run["pk"] in products
    }
    if not product_contract:
        return []
    ids = list(product_contract)
    groups = (
        DiscountProduct.objects.filter(product_id__in=ids)
        .annotate(
            redeemed=code_redeemed("discount__"),
            usable=ExpressionWrapper(code_usable("discount__"), output_field=BooleanField()),
        )
        .values(
            "product_id",
            "redeemed",
            "usable",
            "discount__is_active",
            "discount__redemption_type",
            "discount__amount",
            "discount__activation_date",
            "discount__expiration_date",
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    learners = {
        row["product_id"]: row["learners"]
        for row in DiscountRedemption.objects.annotate(
            product_id=F("redeemed_discount__product_links__product_id")
        )
        .filter(product_id__in=ids)
        .values("product_id")
        .annotate(learners=Count("redeemed_by", distinct=True))
        .order_by()
    }
    tally: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in groups:
        product_id, count = row["product_id"], row["n"]
        contract = product_contract[product_id]
        counts = tally[product_id]
        kind = row["discount__redemption_type"]
        if not row["redeemed"]:
            counts["unredeemed"] += count
        if not row["usable"]:
            continue
        counts["unlimited" if kind == UNLIMITED else "one_time"] += count
        if row["discount__amount"] != contract.price:
            counts["bad_amount"] += count
        if (
            row["discount__activation_date"] != contract.starts_at
            or row["discount__expiration_date"] != contract.ends_at
        ):
            counts["bad_dates"] += count
    findings = []
    for product_id in ids:
        contract = product_contract[product_id]
        counts = tally[product_id]
        subject = f"product {product_id} ({product_run[product_id]})"
        repair = Repair("codes", contract.pk, contract.pk, _codes_label(contract.pk))
        target = codes_target(
            needs_codes=contract.needs_codes,
            cap=contract.max_learners,
            learners_redeemed=learners.get(product_id, 0),
        )
        wrong = []
        if target.one_time is not None and counts["one_time"] != target.one_time:
            wrong.append(True)
        if counts["unlimited"] < target.unlimited_min or (
            target.unlimited_max is not None and counts["unlimited"] > target.unlimited_max
        ):
            wrong.append(True)
        if target.unredeemed_max is not None and counts["unredeemed"] > target.unredeemed_max:
            wrong.append(True)
        if wrong:
            findings.append(
                Finding(
                    contract.pk,
                    "codes-count",
                    ERROR,
                    subject,
                    _target_text(target, learners.get(product_id, 0)),
                    f"{counts['one_time']} usable one-time, {counts['unlimited']} usable "
                    f"unlimited, {counts['unredeemed']} unredeemed",
                    _fix_cmd(contract.pk),
                    repair,
                )
            )
        if counts["bad_amount"]:
            findings.append(
                Finding(
                    contract.pk,
                    "codes-amount",
                    ERROR,
                    subject,
                    f"usable codes at {_money(contract.price)}",
                    f"{counts['bad_amount']} usable codes at another amount",
                    _fix_cmd(contract.pk),
                    repair,
                )
            )
        if counts["bad_dates"]:
            findings.append(
                Finding(
                    contract.pk,
                    "codes-dates",
                    ERROR,
                    subject,
                    f"usable codes from {_when(contract.starts_at)} to {_when(contract.ends_at)}",
                    f"{counts['bad_dates']} usable codes with other dates",
                    _fix_cmd(contract.pk),
                    repair,
                )
            )
    return findings


def _codes_pending(by_id: dict[int, ContractPage], now: dt.datetime) -> list[Finding]:
    """Contracts whose code adjustment was asked for longer ago than ``REQUEUE_PENDING_AFTER``
    and has not finished: lost, or failing, or no worker and beat running. One query."""
    findings = []
    for contract_id, requested_on in codes_pending_overdue(list(by_id), now=now).items():
        findings.append(
            Finding(
                contract_id,
                "codes-pending",
                ERROR,
                "code adjustment",
                f"adjusted within {settings.REQUEUE_PENDING_AFTER:g} s of the change "
                "(REQUEUE_PENDING_AFTER)",
                f"pending since {_when(requested_on)}",
                f"{_fix_cmd(contract_id)} (and see that a Celery worker runs with beat)",
                Repair("codes", contract_id, contract_id, _codes_label(contract_id)),
            )
        )
    return findings


def _target_text(target: Any, learners: int) -> str:
    if target.unredeemed_max == 0:
        return "no unredeemed code (SSO, free, uncapped)"
    if target.unlimited_min:
        return "no usable one-time code, at least 1 usable unlimited code (uncapped)"
    return (
        f"{target.one_time} usable one-time (cap − {learners} learners redeemed), 0 usable "
        "unlimited"
    )


# -- redemptions ---------------------------------------------------------------------------------


def _redemptions(ids: list[int], stale: dt.datetime) -> list[Finding]:
    """Redemptions on the contracts' products against their orders, enrollments and memberships
    (SPEC §5): one grouped query, plus one for one-time codes redeemed more than once."""
    base = DiscountRedemption.objects.annotate(
        contract_id=F("redeemed_discount__product_links__product__course_run__b2b_contract_id"),
        run_id=F("redeemed_discount__product_links__product__course_run_id"),
    ).filter(contract_id__in=ids)
    enrolled = Exists(
        CourseRunEnrollment.objects.filter(
            user_id=OuterRef("redeemed_by_id"), run_id=OuterRef("run_id")
        )
    )
    attached = Exists(
        ContractMembership.objects.filter(
            user_id=OuterRef("redeemed_by_id"), contract_id=OuterRef("contract_id")
        )
    )
    # An accepted payment of another amount or currency than its order's (or with none said).
    paid_otherwise = Exists(
        Transaction.objects.filter(order_id=OuterRef("redeemed_order_id"), decision=ACCEPT).filter(
            Q(amount__isnull=True)
            | ~Q(amount=OuterRef("redeemed_order__total_price_paid"))
            | Q(data__req_currency__isnull=True)
            | ~Q(data__req_currency=CURRENCY)
        )
    )
    pending = Q(redeemed_order__state=PENDING)
    # A code used to join its contract (``/join/``) has no order and no enrollment: it attached
    # the learner, who enrolls later (SPEC §5). Only its membership is checked.
    on_order = Q(redeemed_order__isnull=False)
    rows = (
        base.values("contract_id")
        .annotate(
            total=Count("pk"),
            not_fulfilled=Count(
                "pk", filter=on_order & ~Q(redeemed_order__state=FULFILLED) & ~pending
            ),
            pending_old=Count("pk", filter=pending & Q(redeemed_order__created_on__lt=stale)),
            paid_otherwise=Count("pk", filter=Q(redeemed_order__state=FULFILLED) & paid_otherwise),
            no_enrollment=Count("pk", filter=on_order & ~enrolled),
            no_membership=Count("pk", filter=~attached),
        )
        .order_by()
    )
    findings = []
    for row in rows:
        cid = row["contract_id"]
        checks = (
            (
                "redemption-order",
                ERROR,
                "not_fulfilled",
                "a fulfilled order",
                "orders canceled, declined or refunded",
            ),
            (
                "redemption-order-pending",
                WARNING,
                "pending_old",
                "payment settled within an hour",
                "orders pending for over an hour",
            ),
            (
                "redemption-payment",
                ERROR,
                "paid_otherwise",
                f"an accepted payment of its order's amount in {CURRENCY}",
                "fulfilled orders paid another amount or currency (see their transactions)",
            ),
            (
                "redemption-enrollment",
                ERROR,
                "no_enrollment",
                "an enrollment in the run",
                "no enrollment of the learner in the run",
            ),
            (
                "redemption-membership",
                ERROR,
                "no_membership",
                "a membership of the contract",
                "no membership of the learner",
            ),
        )
        for kind, severity, name, expected, what in checks:
            if row[name]:
                findings.append(
                    Finding(
                        cid,
                        kind,
                        severity,
                        "redemptions",
                        f"every redemption has {expected}",
                        f"{row[name]} of {row['total']} redemptions: {what}",
                        f"b2b_list contracts --codes {cid} --format json lists them; mend by "
                        "hand (nothing is deleted automatically)",
                    )
                )
    twice: dict[int, list[int]] = defaultdict(list)
    for row in (
        base.filter(redeemed_discount__redemption_type=ONE_TIME)
        .values("contract_id", "redeemed_discount_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("redeemed_discount_id")
    ):
        twice[row["contract_id"]].append(row["redeemed_discount_id"])
    for cid, codes in twice.items():
        findings.append(
            Finding(
                cid,
                "code-redeemed-twice",
                ERROR,
                "codes "
                + ", ".join(str(pk) for pk in codes[:5])
                + (" …" if len(codes) > 5 else ""),
                "one redemption per one-time code",
                f"{len(codes)} one-time codes redeemed more than once",
                "b2b_codes show CODE lists its redemptions; mend by hand",
            )
        )
    return findings


# -- repairs -------------------------------------------------------------------------------------


def repairs_plan(result: CheckResult) -> list[Repair]:
    """The safe repairs the findings call for, each once: products of removed runs first, then
    code adjustments, then Open edX syncs."""
    seen: dict[tuple[str, int], Repair] = {}
    for finding in result.findings:
        if finding.repair is not None:
            seen.setdefault((finding.repair.action, finding.repair.target), finding.repair)
    order = {"deactivate": 0, "codes": 1, "edx": 2}
    return sorted(seen.values(), key=lambda r: (order[r.action], r.target))


def repairs_apply(repairs: list[Repair]) -> list[str]:
    """Carry out the repairs; returns one line per repair done. Deletes nothing but what the code
    adjustment deletes by its own rule (unredeemed codes of free uncapped SSO contracts)."""
    from b2b.tasks import contract_codes_adjust
    from openedx.api import course_run_edx_queue

    done = []
    deactivate = [r.target for r in repairs if r.action == "deactivate"]
    if deactivate:
        with transaction.atomic():
            Product.objects.filter(pk__in=deactivate, is_active=True).update(
                is_active=False, updated_on=timezone.now()
            )
            codes = codes_deactivate_for_products(deactivate)
        done.append(f"Deactivated {len(deactivate)} product(s) and {codes} usable code(s).")
    for repair in repairs:
        if repair.action == "codes":
            done.append(contract_codes_adjust(repair.target))
    edx = [r.target for r in repairs if r.action == "edx"]
    for run in CourseRun.objects.filter(pk__in=edx).order_by("pk"):
        with transaction.atomic():
            status = course_run_edx_queue(run)
        done.append(f"Open edX sync of {run.courseware_id}: {status}.")
    return done
