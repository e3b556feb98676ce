"""*My courses*: what a learner sees of their contracts and course runs (SPEC §5, widened; §6).

One card per course run, never two: the runs of every contract the learner is attached to, each
with its status, grouped under the contract (the organization's name, logo and the contract's
welcome text); then the runs they are enrolled in outside those contracts (public runs, or runs of
a contract they have left). A card's status says what the learner can do:

- ``enrolled``: an active enrollment; "Go to course" opens it in the LMS (``courseware_url``);
- ``can-enroll``: a free contract in force: one click enrolls (``contract_enroll``);
- ``buy``: a priced contract in force: the run's Product URL checks out at the contract price,
  no code needed (the learner is attached: the seat is theirs);
- ``pending``: an order of theirs for the run awaits its payment's confirmation;
- ``closed``: the contract is inactive or outside its dates (or a priced run has no product on
  sale).

Whether a learner *may* enroll is decided again, under the contract's lock, by
``b2b.services.redemption``; this module only reads. A fixed number of queries whatever the
numbers of contracts, runs and enrollments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from b2b.models import ContractMembership, ContractPage, OrganizationPage
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.models import Order, Product
from main.models import User
from openedx.api import courseware_url

ENROLLED, CAN_ENROLL, BUY, PENDING, CLOSED = "enrolled", "can-enroll", "buy", "pending", "closed"


@dataclass
class CourseCard:
    """One course run on My courses. ``organization`` is the name of the run's contract's
    organization (None for a public run); ``price`` the contract price (Decimal, 2 places);
    ``product_id`` the run's product on sale (None: none); ``lms_url`` where "Go to course" leads
    (None: not enrolled, or no LMS address set)."""

    run: CourseRun
    status: str
    organization: str | None
    price: Decimal
    product_id: int | None
    lms_url: str | None


@dataclass
class ContractSection:
    """A contract the learner is attached to (``source``: sso / code / manual), its organization
    and its runs' cards, by title."""

    contract: ContractPage
    organization: OrganizationPage
    source: str
    cards: list[CourseCard] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The section's ``id`` on the page (``contract_url`` lands on it)."""
        return f"contract-{self.contract.pk}"


def contract_url(contract_id: int) -> str:
    """The contract's section on My courses: ``/dashboard/#contract-<id>``."""
    return f"{reverse('dashboard')}#contract-{contract_id}"


@dataclass
class MyCourses:
    """The page's content: ``contracts`` (by organization name, then oldest first) and
    ``others`` (enrollments outside those contracts, newest first)."""

    contracts: list[ContractSection]
    others: list[CourseCard]

    @property
    def is_empty(self) -> bool:
        return not self.contracts and not self.others

    @property
    def enrolled_count(self) -> int:
        cards = [c for s in self.contracts for c in s.cards] + self.others
        return sum(1 for c in cards if c.status == ENROLLED)


def _status(
    run: CourseRun,
    contract: ContractPage,
    *,
    enrolled: bool,
    product: Product | None,
    pending: set[int],
    now: dt.datetime,
) -> str:
    if enrolled:
        return ENROLLED
    if not contract.is_in_force(now):
        return CLOSED
    if contract.is_free:
        return CAN_ENROLL
    if product is None:  # a priced run is bought: none on sale, none to buy
        return CLOSED
    return PENDING if product.pk in pending else BUY


def _card(
    run: CourseRun, status: str, contract: ContractPage | None, product: Product | None
) -> CourseCard:
    return CourseCard(
        run=run,
        status=status,
        organization=contract.organization.name if contract else None,
        price=contract.price if contract else (product.price if product else Decimal("0.00")),
        product_id=product.pk if product else None,
        lms_url=courseware_url(run.courseware_id) if status == ENROLLED else None,
    )


def _products(runs: Iterable[CourseRun]) -> dict[int, Product]:
    return {
        p.course_run_id: p
        for p in Product.objects.filter(course_run__in=list(runs), is_active=True).order_by("pk")
    }


def my_courses(user: User) -> MyCourses:
    """What My courses shows ``user`` (see the module docstring). Five queries, whatever the
    numbers of contracts, runs and enrollments (the page adds one per logo shown)."""
    memberships = list(
        ContractMembership.objects.filter(user=user)
        .select_related("contract__organization__logo")
        .order_by("contract__organization__name", "contract_id")
    )
    contract_ids = [m.contract_id for m in memberships]
    runs = list(
        CourseRun.objects.filter(b2b_contract_id__in=contract_ids)
        .select_related("course")
        .order_by("title", "courseware_id")
    )
    enrollments = list(
        CourseRunEnrollment.objects.filter(user=user, active=True)
        .select_related("run__course", "run__b2b_contract__organization")
        .order_by("-created_on", "-pk")
    )
    enrolled = {e.run_id for e in enrollments}
    products = _products(runs)
    pending = set(
        Order.objects.filter(
            purchaser=user, state=Order.State.PENDING, lines__product__in=products.values()
        ).values_list("lines__product_id", flat=True)
    )
    now = timezone.now()
    sections = []
    for membership in memberships:
        contract = membership.contract
        section = ContractSection(contract, contract.organization, membership.source)
        for run in runs:
            if run.b2b_contract_id != contract.pk:
                continue
            product = products.get(run.pk)
            status = _status(
                run,
                contract,
                enrolled=run.pk in enrolled,
                product=product,
                pending=pending,
                now=now,
            )
            section.cards.append(_card(run, status, contract, product))
        sections.append(section)
    shown = {run.pk for run in runs}
    others = [
        _card(e.run, ENROLLED, e.run.b2b_contract, None)
        for e in enrollments
        if e.run_id not in shown
    ]
    return MyCourses(contracts=sections, others=others)
