"""The law of seats (``b2b.services.seats``, SPEC §5, §9): the contract lock, the count of seats
taken, and the seat check, read as the rules read them."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from b2b.exceptions import ContractFull, ContractNotFound
from b2b.models import ContractMembership
from b2b.services.seats import SeatCount, contract_facts, seat_check
from courses.models import CourseRunEnrollment
from ecommerce.models import Line, Order
from tests.factories import UserFactory, memberships_bulk


def order_for(offer, user, *, state: str = Order.State.PENDING) -> Order:
    """An order of ``user`` for the offer's product, in ``state``."""
    order = Order.objects.create(purchaser=user, state=state)
    Line.objects.create(
        order=order, product=offer.product, quantity=1, unit_price=0, discounted_price=0
    )
    return order


@pytest.fixture
def capped(make_offer):
    return make_offer("Capped", "non-sso", max_learners=5)


def test_seats_taken_are_attached_learners_and_others_holding_a_pending_order(make_offer, capped):
    # given 2 learners attached, and around them every kind of order
    memberships_bulk(capped.contract, 2)
    order_for(capped, UserFactory(username="bea"))  # holds a seat
    carl = UserFactory(username="carl")
    order_for(capped, carl)
    order_for(capped, carl)  # two pending orders: one seat
    dora = UserFactory(username="dora")
    ContractMembership.objects.create(user=dora, contract=capped.contract, source="manual")
    order_for(capped, dora)  # attached already: counted once, as attached
    order_for(capped, UserFactory(username="eve"), state=Order.State.FULFILLED)  # holds none
    order_for(capped, UserFactory(username="fay"), state=Order.State.CANCELED)  # holds none
    other = make_offer("Other", "non-sso", max_learners=5, key="OX", org="Other U")
    order_for(other, UserFactory(username="gus"))  # another contract's seat
    learner = UserFactory(username="ada")

    # when the facts are read for a learner with no membership and no order
    facts = contract_facts(capped.contract.pk, user=learner, for_update=False)

    # then: 3 attached + 2 held = 5 taken of 5
    assert facts.seats == SeatCount(members=3, held=2)
    assert (facts.seats.taken, facts.seats_free) == (5, 0)
    assert (facts.attached, facts.holding, facts.has_seat) == (False, False, False)
    with pytest.raises(ContractFull) as refusal:
        seat_check(facts)
    assert refusal.value.message == (
        f"Contract {capped.contract.pk} ('Capped') is full: 3 of its 5 learners are attached and "
        "2 held by orders awaiting payment. Raise its learner cap or detach a learner first."
    )
    with pytest.raises(ContractFull) as to_learner:
        seat_check(facts, to_learner=True)
    assert to_learner.value.message == (
        "The contract “Capped” has no seats left (its 5 learners are attached): your code stays "
        "unused. Contact your organization."
    )


def test_the_learners_own_pending_order_holds_their_seat_and_is_not_counted_twice(capped):
    # given 4 learners attached and the learner's own order awaiting its payment
    memberships_bulk(capped.contract, 4)
    learner = UserFactory(username="ada")
    own = order_for(capped, learner)

    facts = contract_facts(capped.contract.pk, user=learner, for_update=False)

    # then their seat is theirs: not among the others' held seats, and no new one is needed
    assert facts.seats == SeatCount(members=4, held=0)
    assert (facts.holding, facts.has_seat, facts.seats_free) == (True, True, 1)
    seat_check(facts)

    # and the order being decided is not one that holds a seat already
    deciding = contract_facts(capped.contract.pk, user=learner, order=own, for_update=False)
    assert (deciding.holding, deciding.has_seat, deciding.seats) == (
        False,
        False,
        SeatCount(members=4, held=0),
    )
    # seen by another learner, that order holds one seat
    other = contract_facts(capped.contract.pk, user=UserFactory(), for_update=False)
    assert other.seats == SeatCount(members=4, held=1)
    with pytest.raises(ContractFull):
        seat_check(other)


def test_an_attached_learner_takes_no_new_seat_in_a_full_contract(capped):
    learners = memberships_bulk(capped.contract, 5)
    facts = contract_facts(capped.contract.pk, user=learners[0], for_update=False)
    assert (facts.attached, facts.has_seat, facts.seats_free) == (True, True, 0)
    seat_check(facts)


def test_an_uncapped_contract_counts_its_members_and_has_seats_for_all(make_offer):
    offer = make_offer("Open", "non-sso")
    memberships_bulk(offer.contract, 3)
    order_for(offer, UserFactory(username="bea"))
    learner = UserFactory(username="ada")
    order_for(offer, learner)

    facts = contract_facts(offer.contract.pk, user=learner, for_update=False)

    assert facts.seats == SeatCount(members=3, held=0)
    assert (facts.max_learners, facts.seats_free, facts.holding) == (None, None, False)
    seat_check(facts)


def test_the_facts_carry_the_contract_terms_and_the_learner(capped):
    learner = UserFactory(username="ada")
    CourseRunEnrollment.objects.create(user=learner, run=capped.run)
    ContractMembership.objects.create(user=learner, contract=capped.contract, source="code")

    facts = contract_facts(capped.contract.pk, user=learner, run=capped.run, for_update=False)

    assert (facts.id, facts.name, facts.organization_name) == (
        capped.contract.pk,
        "Capped",
        "University X",
    )
    assert (facts.integration_type, facts.active, facts.max_learners) == ("non-sso", True, 5)
    assert (facts.contract_start, facts.contract_end, facts.enrollment_fixed_price) == (
        None,
        None,
        None,
    )
    assert (facts.attached, facts.enrolled, facts.is_free, facts.needs_codes) == (
        True,
        True,
        True,
        True,
    )
    assert facts.is_in_force() is True
    assert (facts.page.model, facts.page.pk, facts.page.title) == (
        type(capped.contract),
        capped.contract.pk,
        "Capped",
    )
    # no run asked about: nothing said about enrollment
    assert contract_facts(capped.contract.pk, user=learner, for_update=False).enrolled is False


def test_the_lock_and_the_facts_are_two_statements_on_the_contract_tables_only(capped):
    learner = UserFactory(username="ada")
    with transaction.atomic(), CaptureQueriesContext(connection) as locked:
        contract_facts(capped.contract.pk, user=learner, run=capped.run, for_update=True)
    with CaptureQueriesContext(connection) as preview:
        contract_facts(capped.contract.pk, user=learner, for_update=False)

    statements = [q["sql"] for q in locked.captured_queries if q["sql"].lstrip()[:6] != "SAVEPO"]
    statements = [s for s in statements if not s.startswith("RELEASE")]
    assert len(statements) == 2
    assert len(preview.captured_queries) == 1
    lock, facts = statements
    # the lock touches the contract's own row alone; the facts never join Wagtail's page table
    assert "JOIN" not in lock and "wagtailcore_page" not in lock
    assert "wagtailcore_page" not in facts
    if connection.vendor == "postgresql":
        assert lock.endswith('FOR UPDATE OF "b2b_contractpage"')


def test_an_unknown_contract_is_not_found(db):
    learner = UserFactory(username="ada")
    for for_update in (True, False):
        with transaction.atomic(), pytest.raises(ContractNotFound) as missing:
            contract_facts(999999, user=learner, for_update=for_update)
        assert missing.value.message == (
            "No contract with ID 999999: `manage.py b2b_list contracts` lists them."
        )
