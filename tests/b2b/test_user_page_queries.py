"""The Django Admin's User page lists the user's contract memberships in a fixed number of
queries, whatever their number (each row's label reads its user and contract from the same
query)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from b2b.models import ContractMembership
from tests.b2b.helpers import new_contract
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def user_page_queries(client, memberships: int) -> tuple[int, str]:
    admin = UserFactory(username=f"root{memberships}", is_staff=True, is_superuser=True)
    learner = UserFactory(email=f"learner{memberships}@example.com")
    for n in range(memberships):
        contract = new_contract(
            f"Contract {n}", org=f"Org {memberships}-{n}", key=f"K{memberships}_{n}"
        )
        ContractMembership.objects.create(user=learner, contract=contract, source="manual")
    client.force_login(admin)
    url = f"/admin/main/user/{learner.pk}/change/"
    client.get(url)  # content types and the like, cached from here on
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_user_page_queries_do_not_grow_with_memberships(client, wagtail_site):
    two, page = user_page_queries(client, 2)
    twenty, _ = user_page_queries(client, 20)
    assert (two, twenty) == (two, two)
    assert two == 8
    assert "Contract 1 (ID" in page


def test_the_contract_picker_shows_organization_and_id(client, wagtail_site):
    from tests.b2b.staff import staff_member

    contract = new_contract("Acme 2026", org="Acme University", key="ACME")
    learner = UserFactory(email="ada@example.com")
    client.force_login(staff_member())
    page = client.get(f"/admin/main/user/{learner.pk}/change/").content.decode()
    assert 'data-ajax--url="/admin/b2b/contractpage/autocomplete/"' in page
    found = client.get(
        "/admin/b2b/contractpage/autocomplete/",
        {
            "term": "acme",
            "app_label": "b2b",
            "model_name": "contractmembership",
            "field_name": "contract",
        },
    ).json()
    assert found["results"] == [
        {"id": str(contract.pk), "text": f"Acme 2026 — Acme University (ID {contract.pk})"}
    ]
