"""Two learners logging in at the same moment for a contract's last seat (PostgreSQL: real
threads, separate connections; SQLite serialises writers, so this runs on PostgreSQL only)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from b2b.models import ContractMembership, ContractPage
from tests.oidc import ACME_ID, login_begin, new_sub, set_user

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency is tested on PostgreSQL"
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_learners_at_once_for_the_last_seat_only_one_is_attached(sso, world):
    ContractPage.objects.filter(pk=world.acme_free.pk).update(max_learners=1)
    subs = [new_sub(), new_sub()]
    flows = []
    for index, sub in enumerate(subs):
        set_user(sso, sub, email=f"racer{index}@x.example", organization={"acme": {"id": ACME_ID}})
        client = Client()
        flows.append((client, login_begin(client, sso, sub)))
    barrier = threading.Barrier(len(flows))
    statuses: list = [None] * len(flows)
    errors: list = []

    def complete(index):
        client, callback = flows[index]
        try:
            barrier.wait()
            statuses[index] = client.get(callback).status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(len(flows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert statuses == [302, 302]
    members = ContractMembership.objects.filter(contract=world.acme_free)
    assert members.count() == 1
    assert members.get().source == "sso"
    assert members.get().user.email in {"racer0@x.example", "racer1@x.example"}
