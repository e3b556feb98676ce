"""``membership_add`` / ``membership_remove``: the one rule for attaching learners (SPEC §5–§7)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from b2b.exceptions import ContractFull, ContractInactive, ContractNotFound
from b2b.models import ContractMembership
from b2b.services.audit import audit_history
from b2b.services.contracts import contract_modify
from b2b.services.memberships import membership_add, membership_remove
from main.actors import Via, acting_as
from tests.b2b.helpers import new_contract
from tests.factories import UserFactory, memberships_bulk


@pytest.fixture
def contract(wagtail_site):
    return new_contract("Capped", max_learners=2)


def test_add_attaches_and_records_who_and_how(contract):
    learner = UserFactory()
    with acting_as(Via.CHECKOUT, user=learner):
        result = membership_add(learner, contract_id=contract.pk, source="code")
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
    first = membership_add(learner, contract_id=contract.pk, source="sso")
    entries = len(audit_history(contract.pk))
    again = membership_add(learner, contract_id=contract.pk, source="manual")
    assert (again.created, again.membership.pk, again.membership.source) == (
        False,
        first.membership.pk,
        "sso",
    )
    assert len(audit_history(contract.pk)) == entries


def test_a_full_contract_refuses(contract):
    memberships_bulk(contract, 2)
    with pytest.raises(ContractFull) as refusal:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual")
    assert refusal.value.code == "contract-full"
    assert refusal.value.message == (
        f"Contract {contract.pk} ('Capped') is full: 2 of its 2 learners are attached. Raise its "
        "learner cap or detach a learner first."
    )
    assert ContractMembership.objects.count() == 2


def test_seats_held_by_pending_orders_count_against_the_cap(contract):
    memberships_bulk(contract, 1)
    with pytest.raises(ContractFull) as refusal:
        membership_add(UserFactory(), contract_id=contract.pk, source="code", seats_held=1)
    assert (
        "1 of its 2 learners are attached and 1 held by orders awaiting payment"
        in refusal.value.message
    )


def test_inactive_and_ended_contracts_refuse(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contract_modify(contract.pk, start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    with pytest.raises(ContractInactive) as ended:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual")
    assert "ended on 2020-12-31" in ended.value.message
    with django_capture_on_commit_callbacks(execute=True):
        contract_modify(contract.pk, active=False, end=None)
    with pytest.raises(ContractInactive) as inactive:
        membership_add(UserFactory(), contract_id=contract.pk, source="manual")
    assert inactive.value.code == "contract-inactive"
    assert ContractMembership.objects.count() == 0


def test_unknown_contracts_and_sources(contract):
    with pytest.raises(ContractNotFound):
        membership_add(UserFactory(), contract_id=999999, source="manual")
    with pytest.raises(ValueError):
        membership_add(UserFactory(), contract_id=contract.pk, source="gift")


def test_remove_detaches_and_records(contract):
    learner = UserFactory()
    membership_add(learner, contract_id=contract.pk, source="sso")
    with acting_as(Via.SSO, user=learner, name="SSO login"):
        assert membership_remove(learner, contract_id=contract.pk) is True
        assert membership_remove(learner, contract_id=contract.pk) is False
    assert ContractMembership.objects.count() == 0
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.changes["learners"]) == (
        "membership.remove",
        "sso",
        {"before": 1, "after": 0},
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_cap_holds_when_many_learners_arrive_at_once(wagtail_site):
    # given a contract capped at 3 and 10 learners, each in their own thread and connection
    contract = new_contract("Race", max_learners=3)
    learners = [UserFactory() for _ in range(10)]
    barrier = threading.Barrier(len(learners))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attach(learner) -> None:
        try:
            barrier.wait(timeout=30)
            membership_add(learner, contract_id=contract.pk, source="code")
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
