"""Applying enrollment codes is limited per learner and per address, on the cart page and in the
API alike: the same attempts count against the same limits, and the refusal is a 429
``too-many-attempts`` with ``Retry-After``."""

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from ecommerce.models import BasketDiscount
from ecommerce.throttles import CodeAttemptsPerAddress, CodeAttemptsPerLearner
from tests.ecommerce.helpers import shop_state
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOO_MANY = {
    "code": "too-many-attempts",
    "message": "Too many attempts to apply a code: wait 60 seconds, then try again.",
}


class Clock:
    """The throttles' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self, *_: object) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    for throttle in (CodeAttemptsPerLearner, CodeAttemptsPerAddress):
        monkeypatch.setattr(throttle, "timer", clock)
    return clock


@pytest.fixture
def limits(settings, clock):
    settings.CODE_ATTEMPTS_PER_LEARNER = "3/minute"
    settings.CODE_ATTEMPTS_PER_ADDRESS = "5/minute"
    settings.TRUSTED_PROXIES = 0
    return settings


def api_client(user, address: str = "203.0.113.7", **headers: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=address, **headers)
    client.force_login(user)
    client.get("/api/v0/basket/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def offer(make_offer):
    return make_offer("Acme", "non-sso", max_learners=5)


def test_the_page_and_the_api_share_the_learners_limit(client, learner, offer, limits, clock):
    client.defaults["REMOTE_ADDR"] = "203.0.113.7"
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    api = api_client(learner)

    assert client.post("/cart/code/", {"code": "wrong-1"}).status_code == 400
    assert client.post("/cart/code/", {"code": "wrong-2"}).status_code == 400
    assert api.post("/api/v0/basket/code/", {"code": "wrong-3"}, format="json").status_code == 400
    before = shop_state()

    # The fourth attempt, right code or not, through either surface.
    refused = api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")
    assert (refused.status_code, refused["Retry-After"], refused.json()) == (429, "60", TOO_MANY)
    page = client.post("/cart/code/", {"code": offer.codes[0]})
    assert (page.status_code, page["Retry-After"]) == (429, "60")
    assert (page.context["code_error"].code, page.context["code_error"].message) == (
        TOO_MANY["code"],
        TOO_MANY["message"],
    )
    text = page.content.decode()
    assert (
        '<p id="code-error" class="field-error" role="alert" data-code="too-many-attempts">'
        "Too many attempts to apply a code: wait 60 seconds, then try again.</p>"
    ) in text
    assert shop_state() == before
    assert BasketDiscount.objects.count() == 0

    # 20 seconds on, still refused, and told how much longer; a minute after the last counted
    # attempt, the learner may try again.
    clock.now += 20
    refused = api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")
    assert (refused.status_code, refused["Retry-After"]) == (429, "40")
    assert refused.json()["message"] == (
        "Too many attempts to apply a code: wait 40 seconds, then try again."
    )
    clock.now += 40
    response = client.post("/cart/code/", {"code": offer.codes[0]})
    assert (response.status_code, response["Location"]) == (302, "/cart/")
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        f"Code {offer.codes[0]} applied."
    ]


def test_another_learner_is_not_held_by_the_first_ones_limit(learner, offer, limits):
    first = api_client(learner)
    for attempt in range(3):
        first.post("/api/v0/basket/code/", {"code": f"wrong-{attempt}"}, format="json")
    assert first.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code == 429

    other = api_client(UserFactory(username="bob"))
    response = other.post("/api/v0/basket/code/", {"code": "wrong"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "basket-empty")


def test_one_address_is_limited_whoever_the_learners_are(offer, limits):
    learners = [api_client(UserFactory(username=f"l{n}")) for n in range(3)]
    for client in learners[:2]:
        for attempt in range(2):
            client.post("/api/v0/basket/code/", {"code": f"wrong-{attempt}"}, format="json")
    assert learners[2].post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code == 409

    refused = learners[2].post("/api/v0/basket/code/", {"code": "x"}, format="json")
    assert (refused.status_code, refused["Retry-After"], refused.json()) == (429, "60", TOO_MANY)
    elsewhere = api_client(UserFactory(username="far"), address="198.51.100.9")
    assert elsewhere.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code == 409


def test_a_forwarded_for_header_is_ignored_unless_a_proxy_is_trusted(offer, limits):
    # Without TRUSTED_PROXIES a client writing X-Forwarded-For cannot pose as many addresses.
    clients = [
        api_client(UserFactory(username=f"l{n}"), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        for n in range(6)
    ]
    statuses = [
        c.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code for c in clients
    ]
    assert statuses == [409, 409, 409, 409, 409, 429]


def test_behind_a_trusted_proxy_the_forwarded_address_counts(offer, limits):
    limits.TRUSTED_PROXIES = 1
    # The proxy appends the address it saw; what the client wrote itself stays to the left.
    spoofed = [
        api_client(
            UserFactory(username=f"l{n}"),
            address="10.1.1.1",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7",
        )
        for n in range(6)
    ]
    statuses = [
        c.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code for c in spoofed
    ]
    assert statuses == [409, 409, 409, 409, 409, 429]
    other = api_client(
        UserFactory(username="other"), address="10.1.1.1", HTTP_X_FORWARDED_FOR="198.51.100.9"
    )
    assert other.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code == 409


def test_an_empty_rate_means_no_limit(learner, offer, limits):
    limits.CODE_ATTEMPTS_PER_LEARNER = ""
    limits.CODE_ATTEMPTS_PER_ADDRESS = ""
    client = api_client(learner)
    statuses = {
        client.post("/api/v0/basket/code/", {"code": "x"}, format="json").status_code
        for _ in range(12)
    }
    assert statuses == {409}  # the basket is empty: refused, never limited


def test_the_default_limits(settings):
    assert (settings.CODE_ATTEMPTS_PER_LEARNER, settings.CODE_ATTEMPTS_PER_ADDRESS) == (
        "10/minute",
        "60/minute",
    )
