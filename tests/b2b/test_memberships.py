"""``membership_add`` / ``membership_remove``: the one rule for attaching learners (SPEC §5–§7)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from b2b.exceptions import ContractFull, ContractInactive, ContractNotFound
from b2b.models import ContractMembership
from b2b.services.audit import audit_history
from b2b.services.memberships import membership_add, membership_remove, membership_write
from b2b.services.seats import contract_facts
from ecommerce.models import Line, Order
from main.actors import Actor, Via
from tests.b2b.helpers import make_contract
from tests.factories import UserFactory, memberships_bulk

STAFF = Actor(via=Via.ADMIN, name="staff")


@pytest.fixture
def contract(run_command, wagtail_site):
    return make_contract(run_command, "Capped", "non-sso", "--max-learners", "2")


def test_add_attaches_and_records_who_and_how(contract):
    learner = UserFactory()
    result = membership_add(
        learner,
        contract_id=contract.pk,
        source="code",
        actor=Actor(via=Via.CHECKOUT, user=learner),
    )
    assert result.created is True
    assert (result.membership.user, result.membership.contract, result.membership.source) == (
        learner,
        contract,
        "code",
    )
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor) == ("membership.add", "checkout", learner.email)
    assert entry.changes == {
        "learner": {"before": None, "after": learner.email},
        "source": {"before": None, "after": "code"},
        "learners": {"before": 0, "after": 1},
    }


def test_adding_an_attached_learner_keeps_their_membership(contract):
    learner = UserFactory()
    first = membership_add(learner, contract_id=contract.pk, source="sso", actor=STAFF)
    entries = len(audit_history(contract.pk))
    again = membership_add(learner, contract_id=contract.pk, source="manual", actor=STAFF)
    assert (again.created, again.membership.pk, again.membership.source) == (
        False,
        first.membership.pk,
        "sso",
    )
    assert len(audit_history(contract.pk)) == entries


def test_a_full_contract_refuses(contract):
    memberships_bulk(contract, 2)
    with pytest.raises(ContractFull) as refusal:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual", actor=STAFF)
    assert refusal.value.code == "contract-full"
    assert refusal.value.message == (
        f"Contract {contract.pk} ('Capped') is full: 2 of its 2 learners are attached. Raise its "
        "learner cap or detach a learner first."
    )
    assert ContractMembership.objects.count() == 2


def test_seats_held_by_pending_orders_count_against_the_cap(make_offer):
    # given a contract capped at 2: one learner attached, another holding a seat with an order
    # awaiting its payment
    offer = make_offer("Capped", "non-sso", max_learners=2)
    memberships_bulk(offer.contract, 1)
    order = Order.objects.create(purchaser=UserFactory(), state=Order.State.PENDING)
    Line.objects.create(
        order=order, product=offer.product, quantity=1, unit_price=0, discounted_price=0
    )
    # when staff attach a third learner, then the contract is full
    with pytest.raises(ContractFull) as refusal:
        membership_add(UserFactory(), contract_id=offer.contract.pk, source="manual", actor=STAFF)
    assert refusal.value.message == (
        f"Contract {offer.contract.pk} ('Capped') is full: 1 of its 2 learners are attached and "
        "1 held by orders awaiting payment. Raise its learner cap or detach a learner first."
    )
    assert ContractMembership.objects.filter(contract=offer.contract).count() == 1


def test_inactive_and_ended_contracts_refuse(contract, run_command):
    run_command(
        "b2b_contract", "modify", str(contract.pk), "--start", "2020-01-01", "--end", "2020-12-31"
    )
    with pytest.raises(ContractInactive) as ended:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual", actor=STAFF)
    assert "ended on 2020-12-31" in ended.value.message
    run_command("b2b_contract", "modify", str(contract.pk), "--inactive", "--no-end-date")
    with pytest.raises(ContractInactive) as inactive:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual", actor=STAFF)
    assert inactive.value.code == "contract-inactive"
    assert ContractMembership.objects.count() == 0


def test_unknown_contracts_and_sources(contract):
    with pytest.raises(ContractNotFound):
        membership_add(UserFactory(), contract_id=999999, source="manual", actor=STAFF)
    with pytest.raises(ValueError):
        membership_add(UserFactory(), contract_id=contract.pk, source="gift", actor=STAFF)


def test_remove_detaches_and_records(contract):
    learner = UserFactory()
    membership_add(learner, contract_id=contract.pk, source="sso", actor=STAFF)
    login = Actor(via=Via.SSO, user=learner, name="SSO login")
    assert membership_remove(learner, contract_id=contract.pk, actor=login) is True
    assert membership_remove(learner, contract_id=contract.pk, actor=login) is False
    assert ContractMembership.objects.count() == 0
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.changes["learners"]) == (
        "membership.remove",
        "sso",
        {"before": 1, "after": 0},
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_cap_holds_when_many_learners_arrive_at_once(wagtail_site, run_command):
    # given a contract capped at 3 and 10 learners, each in their own thread and connection
    contract = make_contract(run_command, "Race", "non-sso", "--max-learners", "3")
    learners = [UserFactory() for _ in range(10)]
    barrier = threading.Barrier(len(learners))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attach(learner) -> None:
        try:
            barrier.wait(timeout=30)
            membership_add(learner, contract_id=contract.pk, source="code", actor=STAFF)
            outcome = "attached"
        except ContractFull:
            outcome = "full"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attach, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then exactly three got in, and the trail has exactly three entries
    assert sorted(outcomes) == ["attached"] * 3 + ["full"] * 7
    assert ContractMembership.objects.filter(contract=contract).count() == 3
    adds = [e for e in audit_history(contract.pk) if e.action == "membership.add"]
    assert sorted(e.changes["learners"]["after"] for e in adds) == [1, 2, 3]


def _locked_facts(contract, user):
    return contract_facts(contract.pk, user=user, for_update=True)


def test_the_writer_writes_the_membership_and_its_entry_with_the_actor_it_is_given(contract):
    memberships_bulk(contract, 1)
    learner = UserFactory()
    sso = Actor(via=Via.SSO, user=learner, name="SSO login")
    with transaction.atomic():
        membership = membership_write(
            learner, facts=_locked_facts(contract, learner), source="sso", actor=sso
        )
    assert membership is not None
    assert (membership.user, membership.contract_id, membership.source) == (
        learner,
        contract.pk,
        "sso",
    )
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor, entry.changes) == (
        "membership.add",
        "sso",
        learner.email,
        {
            "learner": {"before": None, "after": learner.email},
            "source": {"before": None, "after": "sso"},
            "learners": {"before": 1, "after": 2},
        },
    )


def test_the_writer_writes_nothing_for_an_attached_learner(contract):
    learner = memberships_bulk(contract, 1)[0]
    entries = len(audit_history(contract.pk))
    with transaction.atomic():
        written = membership_write(
            learner, facts=_locked_facts(contract, learner), source="manual", actor=STAFF
        )
    assert written is None
    assert ContractMembership.objects.get(user=learner).source == "code"
    assert len(audit_history(contract.pk)) == entries


def test_the_writer_never_writes_past_the_cap(contract):
    memberships_bulk(contract, 2)
    learner = UserFactory()
    entries = len(audit_history(contract.pk))
    with transaction.atomic(), pytest.raises(ContractFull):
        membership_write(
            learner, facts=_locked_facts(contract, learner), source="code", actor=STAFF
        )
    assert ContractMembership.objects.filter(contract=contract).count() == 2
    assert len(audit_history(contract.pk)) == entries
