"""Code text PostgreSQL cannot store in a text parameter (a NUL character): refused as an
invalid code on every surface that takes a typed code, never a 500."""

import pytest
from rest_framework.test import APIClient

from b2b.models import ContractMembership
from ecommerce.models import DiscountRedemption, Order
from tests.ecommerce.helpers import shop_state

pytestmark = pytest.mark.django_db

NUL_CODE = "abc\x00def"


@pytest.fixture
def shopping(client, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    return offer


def test_a_code_with_a_nul_character_in_the_cart_is_refused_not_a_500(client, shopping):
    before = shop_state()

    response = client.post("/cart/code/", {"code": NUL_CODE})

    assert response.status_code == 400
    assert 'data-code="invalid-code"' in response.content.decode()
    assert shop_state() == before


def test_a_code_with_a_nul_character_on_join_is_refused_not_a_500(client, shopping):
    response = client.post("/join/", {"code": NUL_CODE})

    assert response.status_code == 400
    assert 'data-code="invalid-code"' in response.content.decode()
    assert ContractMembership.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/v0/basket/code/", "/api/v0/checkout/"])
def test_a_code_with_a_nul_character_in_the_api_is_a_400_not_a_500(shopping, learner, path):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(learner)
    api.get("/api/v0/basket/")
    api.credentials(HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    response = api.post(path, {"code": NUL_CODE}, format="json")

    assert response.status_code == 400
    assert Order.objects.count() == DiscountRedemption.objects.count() == 0
