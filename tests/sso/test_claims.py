"""The ``organization`` claim's shapes and the attachment rules, without a provider (SPEC §6)."""

import uuid

import pytest

from b2b.models import ContractMembership, ContractPage
from b2b.services.sso import (
    ABSENT,
    MalformedClaim,
    OrganizationClaim,
    organization_claim_parse,
    sso_contracts_sync,
)
from ecommerce.models import Order
from tests.factories import UserFactory
from tests.oidc import ACME_ID, BETA_ID

A, B = uuid.UUID(ACME_ID), uuid.UUID(BETA_ID)


@pytest.mark.parametrize(
    ("claim", "parsed"),
    [
        (
            {"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}},
            OrganizationClaim(ids=frozenset({A, B})),
        ),
        ({"acme": {"id": ACME_ID}, "beta": {}}, OrganizationClaim(ids=frozenset({A}))),
        ({"acme": {"id": "nope"}, "beta": {"id": BETA_ID}}, OrganizationClaim(ids=frozenset({B}))),
        (
            {"acme": {}, "beta": {"name": "Beta"}},
            OrganizationClaim(aliases=frozenset({"acme", "beta"})),
        ),
        (["acme", " beta ", ""], OrganizationClaim(aliases=frozenset({"acme", "beta"}))),
        ("acme", OrganizationClaim(aliases=frozenset({"acme"}))),
        ("", OrganizationClaim()),
        ([], OrganizationClaim()),
        ({}, OrganizationClaim()),
    ],
)
def test_claim_shapes(claim, parsed):
    assert organization_claim_parse(claim) == parsed


@pytest.mark.parametrize("claim", [42, None, ["acme", 3], {"acme": "x"}, True])
def test_malformed_claims(claim):
    with pytest.raises(MalformedClaim):
        organization_claim_parse(claim)


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_sync_attaches_detaches_and_keeps_other_sources(world):
    user = UserFactory(username="ada", email="ada@x.example")
    ContractMembership.objects.create(user=user, contract=world.acme_codes, source="code")
    result = sso_contracts_sync(user, {"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}})
    assert (result.claim_present, result.attached, result.detached, result.refused) == (
        True,
        [world.acme_free.pk, world.beta_free.pk],
        [],
        {},
    )
    result = sso_contracts_sync(user, ["beta"])
    assert (result.attached, result.detached) == ([], [world.acme_free.pk])
    assert dict(
        ContractMembership.objects.filter(user=user).values_list("contract_id", "source")
    ) == {world.acme_codes.pk: "code", world.beta_free.pk: "sso"}


@pytestmark_db
def test_sync_keeps_the_source_of_an_existing_membership(world):
    user = UserFactory(username="ada")
    ContractMembership.objects.create(user=user, contract=world.acme_free, source="manual")
    result = sso_contracts_sync(user, "acme")
    assert result.attached == []
    result = sso_contracts_sync(user, [])
    assert result.detached == []
    assert ContractMembership.objects.get(user=user).source == "manual"


@pytestmark_db
def test_sync_with_absent_or_malformed_claim_changes_nothing(world):
    user = UserFactory(username="ada")
    sso_contracts_sync(user, "acme")
    assert sso_contracts_sync(user, ABSENT).claim_present is False
    assert sso_contracts_sync(user, 42).claim_present is False
    assert ContractMembership.objects.filter(user=user, source="sso").count() == 1


@pytestmark_db
def test_seats_held_by_pending_orders_count_against_the_cap(world, catalog):
    from courses.models import CourseRun
    from ecommerce.models import Line, Product

    ContractPage.objects.filter(pk=world.acme_free.pk).update(max_learners=1)
    buyer = UserFactory(username="buyer")
    run = CourseRun.objects.get(b2b_contract=world.acme_free)
    order = Order.objects.create(purchaser=buyer, state=Order.State.PENDING)
    Line.objects.create(
        order=order,
        product=Product.objects.get(course_run=run),
        quantity=1,
        unit_price=0,
        discounted_price=0,
    )
    user = UserFactory(username="ada")
    result = sso_contracts_sync(user, "acme")
    assert (result.attached, list(result.refused)) == ([], [world.acme_free.pk])
