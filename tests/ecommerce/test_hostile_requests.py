"""Requests built to break the parsers: non-ASCII digits in IDs, JSON nested past the decoder's
depth. Each is a 4xx with the page's or the API's usual refusal, never a 500."""

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from ecommerce.models import BasketItem, Order
from tests.ecommerce.helpers import shop_state

pytestmark = pytest.mark.django_db

#: Superscript two, Arabic-Indic three, full-width four, Devanagari one, a mathematical bold 5.
NOT_ASCII = ["²", "٣", "４", "१", "𝟓"]


def refusals(response) -> list[tuple[str, str]]:
    return [(m.extra_tags, m.message) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def shopping(client, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    return offer


@pytest.mark.parametrize("raw", NOT_ASCII + ["1.0", "+1", "0", "99999999999999999999"])
def test_a_product_url_with_a_non_ascii_id_is_a_404_and_keeps_the_basket(client, shopping, raw):
    # ٣ and ４ would be read as 3 and 4 by int(): they must not name product 3 or 4.
    before = shop_state()

    response = client.get("/cart/add/", {"product_id": raw})

    assert response.status_code == 404
    assert refusals(response) == [
        (
            "product-not-found",
            "This course link is incomplete: open it exactly as you were given it (the whole "
            "link), or ask the organization that gave it to you for a new one.",
        )
    ]
    page = response.content.decode()
    assert '<li class="message error" data-code="product-not-found"' in page
    assert "<h1>Your cart</h1>" in page
    assert shop_state() == before
    assert list(BasketItem.objects.values_list("product_id", flat=True)) == [shopping.product.pk]


@pytest.mark.parametrize("url", ["/cart/", "/dashboard/"])
@pytest.mark.parametrize("raw", NOT_ASCII + ["abc", "-1"])
def test_an_order_note_with_a_bad_id_is_a_400_on_the_cart_and_the_dashboard(
    client, shopping, url, raw
):
    response = client.get(url, {"order": raw})

    assert response.status_code == 400
    assert refusals(response) == [
        (
            "invalid-id",
            f"The address names order {raw!r}, which is not an order number: open your cart or "
            "My courses from the menu.",
        )
    ]
    assert 'data-code="invalid-id"' in response.content.decode()


def test_an_order_note_still_shows_for_a_good_id(client, shopping, learner):
    order = Order.objects.create(purchaser=learner, state="declined")

    response = client.get("/cart/", {"order": str(order.pk)})

    assert response.status_code == 200
    assert f"Your payment for order {order.pk} was declined" in response.content.decode()


@pytest.fixture
def api(learner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    client.get("/api/v0/basket/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.mark.parametrize("raw", NOT_ASCII + [True, 0, -1, 1.5, "", None])
def test_the_api_refuses_an_id_that_is_not_ascii_digits(api, make_offer, raw):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    before = shop_state()

    response = api.post("/api/v0/basket/items/", {"product_id": raw}, format="json")

    message = (
        "product_id: This field may not be null."
        if raw is None
        else "product_id: A positive whole number is required (an ID such as 12, in ASCII digits)."
    )
    assert (response.status_code, response.json()) == (
        400,
        {"code": "invalid-input", "message": message},
    )
    assert shop_state() == before
    assert offer.product.pk  # the offer exists: a lenient parser would have found it


def test_the_api_takes_an_id_as_a_number_or_as_ascii_digits(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    for value in (offer.product.pk, str(offer.product.pk), f" {offer.product.pk} "):
        response = api.post("/api/v0/basket/items/", {"product_id": value}, format="json")
        assert response.status_code == 200
        assert response.json()["items"][0]["product_id"] == offer.product.pk


@pytest.mark.parametrize("path", ["/api/v0/basket/items/", "/api/v0/basket/code/"])
def test_json_nested_past_the_decoder_is_a_400_not_a_500(api, path):
    before = shop_state()
    body = "[" * 100_000 + "]" * 100_000

    response = api.generic("POST", path, body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"code": "parse-error", "message": "JSON parse error - the body is nested too deeply."},
    )
    assert shop_state() == before


def test_the_admin_code_list_ignores_a_contract_filter_that_is_not_an_id(client, admin_user):
    client.force_login(admin_user)
    for raw in ("²", "٣"):
        response = client.get("/admin/ecommerce/discount/", {"contract": raw})
        assert response.status_code == 200


@pytest.mark.parametrize("body", ["5", "true", "1.5", '"the code"', '["code"]'])
def test_a_checkout_body_that_is_not_a_json_object_is_a_400_not_a_500(api, shopping, body):
    before = shop_state()

    response = api.post("/api/v0/checkout/", body, content_type="application/json")

    assert response.status_code == 400
    assert shop_state() == before
