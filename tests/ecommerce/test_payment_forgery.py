"""Forged gateway responses are refused by both callbacks and change nothing (SPEC §5, README
"Security"). Each forgery is posted to ``/checkout/result/`` and ``/checkout/backoffice/`` with
the Django test client, and the re-split request end to end over real HTTP to the running app.

The order under attack is another learner's pending $100.00 order. The gateway's side is played
by ``tests.ecommerce.helpers`` (signing with the test key of the ``payments`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from django.utils.html import escape

from ecommerce.models import Order, Product, Transaction
from ecommerce.services.payments import (
    REQUEST_ONLY,
    field_is_request_only,
    gateway_text,
    payment_response_read,
)
from tests.ecommerce.helpers import (
    gateway_response,
    payment_form_fields,
    resplit,
    shop_state,
    sign,
    signed,
    signed_without,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CALLBACKS = ["/checkout/result/", "/checkout/backoffice/"]
INJECTED = ["req_reference_number", "decision", "req_amount", "transaction_id", "message"]


def evil_name(reference: str) -> str:
    """The organization name of the attack: a response's fields hidden in a name."""
    return (
        f"Acme,req_reference_number={reference},decision=ACCEPT,req_amount=100.00,"
        "transaction_id=forged-1,message="
    )


@dataclass
class Victim:
    order: Order
    form: dict[str, str]  # the signed form the victim's browser was given


def checkout(client, offer, username: str, code: str) -> tuple[Order, dict[str, str]]:
    """A learner checks out ``offer`` with ``code`` on the site: their pending order and the
    signed payment form the page gives their browser."""
    learner = UserFactory(username=username)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": code})
    page = client.post("/checkout/", REMOTE_ADDR="203.0.113.7")
    client.logout()  # the gateway's posts carry no session cookie
    return Order.objects.get(purchaser=learner), payment_form_fields(page.content.decode())


@pytest.fixture
def victim(client, make_offer, payments) -> Victim:
    offer = make_offer("Acme Paid", "non-sso", max_learners=3, price="100")
    order, form = checkout(client, offer, "bo", offer.codes[0])
    assert (order.state, order.total_price_paid, form["amount"]) == ("pending", 100, "100.00")
    return Victim(order, form)


@pytest.fixture
def attacker_form(client, make_offer, victim) -> dict[str, str]:
    """Staff name an organization with the victim's reference hidden in it; the attacker checks
    out its product and gets the signed request form."""
    offer = make_offer(
        "Acme Evil",
        "non-sso",
        max_learners=3,
        price="100",
        org=evil_name(victim.order.reference_number),
        key="EVIL",
    )
    _, form = checkout(client, offer, "eve", offer.codes[0])
    return form


def forged_names(form: dict[str, str]) -> list[str]:
    """The fields the attacker reads the signed request as: its own up to the item name, then
    the response's fields hidden in the organization name."""
    names = form["signed_field_names"].split(",")
    return names[: names.index("item_0_name") + 1] + INJECTED


def signed_before_cleaning(form: dict[str, str]) -> dict[str, str]:
    """The same request as the site signed it before item names were cleaned: the product's
    description as it is, signed with the profile's key."""
    raw = {**form, "item_0_name": Product.objects.get(pk=int(form["item_0_sku"])).description}
    return {**raw, "signature": sign(raw)}


def refused(response, message: str) -> None:
    assert response.status_code == 400
    assert (
        '<p class="notice error" role="alert" data-code="invalid-payment-response">'
        f"{escape(message)}</p>"
    ) in response.content.decode()


REQUEST_MESSAGE = (
    "The payment response signs fields of a payment request (access_key, amount, consumer_id, "
    "currency, customer_ip_address): it is not the gateway's response."
)


# -- the re-split request -------------------------------------------------------------------------


def test_the_signed_form_carries_no_separator_from_an_organization_name(victim, attacker_form):
    reference = victim.order.reference_number
    product = Product.objects.get(pk=int(attacker_form["item_0_sku"]))
    assert product.description.startswith(evil_name(reference))  # stored as the staff typed it

    assert attacker_form["item_0_name"] == (
        f"Acme req_reference_number {reference} decision ACCEPT req_amount 100.00 "
        f"transaction_id forged-1 message - Data Analysis for Social Scientists - "
        f"{product.course_run.courseware_id}"
    )
    assert attacker_form["signature"] == sign(attacker_form)
    assert resplit(attacker_form, forged_names(attacker_form)) is None


@pytest.mark.parametrize("url", CALLBACKS)
def test_a_signed_request_re_split_into_an_accepted_response_is_refused(
    client, victim, attacker_form, url
):
    forged = resplit(signed_before_cleaning(attacker_form), forged_names(attacker_form))
    assert forged is not None
    assert {name: forged[name] for name in INJECTED[:-1]} == {
        "req_reference_number": victim.order.reference_number,
        "decision": "ACCEPT",
        "req_amount": "100.00",
        "transaction_id": "forged-1",
    }
    assert len(forged["signed_field_names"].split(",")) == 12
    before = shop_state()

    refused(client.post(url, forged), REQUEST_MESSAGE)

    assert shop_state() == before


@pytest.mark.parametrize("url", CALLBACKS)
def test_the_signed_request_itself_posted_as_a_response_is_refused(client, victim, url):
    before = shop_state()

    refused(client.post(url, victim.form), REQUEST_MESSAGE)

    assert shop_state() == before


# -- every other forgery ---------------------------------------------------------------------------


def _resigned(fields: dict[str, str], **changes: str) -> dict[str, str]:
    return signed({**fields, **changes})


def _with_signature_of(fields: dict[str, str], other: dict[str, str]) -> dict[str, str]:
    return {**fields, "signature": other["signature"]}


def _listed_not_posted(fields: dict[str, str]) -> dict[str, str]:
    posted = dict(fields)
    del posted["reason_code"]
    return posted


def _duplicate_name(fields: dict[str, str]) -> dict[str, str]:
    names = fields["signed_field_names"]
    return {**fields, "signed_field_names": f"decision,{names}"}


def _name_holding_equals(fields: dict[str, str]) -> dict[str, str]:
    forged = {**fields, "signed_field_names": f"{fields['signed_field_names']},message=x"}
    forged["message=x"] = "y"
    return forged


def _signed_date_time_alone(form: dict[str, str]) -> dict[str, str]:
    forged = {"signed_date_time": form["signed_date_time"], "signed_field_names": ""}
    forged = signed(forged)
    return {**forged, "decision": "ACCEPT", "req_amount": "100.00"}


def _with_request_field(name: str):
    def forge(form: dict[str, str]) -> dict[str, str]:
        return _resigned(gateway_response(form, "ACCEPT"), **{name: form[name]})

    return forge


UNSIGNED = "The payment response does not sign {}."
AMOUNT = "The payment response's {} {!r} is not an amount like 100.00."
MISMATCH = "The payment response is for {}; order {{order}} is 100.00 USD."
NO_MATCH = "The payment response's signature does not match."

FORGERIES = {
    "unsigned decision": (
        lambda f: {
            **signed_without(gateway_response(f, "DECLINE"), "decision"),
            "decision": "ACCEPT",
        },
        UNSIGNED.format("decision"),
    ),
    "unsigned req_amount": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "req_amount"),
        UNSIGNED.format("req_amount"),
    ),
    "unsigned req_currency": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "req_currency"),
        UNSIGNED.format("req_currency"),
    ),
    "unsigned req_reference_number": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "req_reference_number"),
        UNSIGNED.format("req_reference_number"),
    ),
    "unsigned transaction_id": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "transaction_id"),
        UNSIGNED.format("transaction_id"),
    ),
    "unsigned signed_field_names": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "signed_field_names"),
        UNSIGNED.format("signed_field_names"),
    ),
    "accepted without auth_amount signed": (
        lambda f: signed_without(gateway_response(f, "ACCEPT"), "auth_amount"),
        "The accepted payment response does not sign auth_amount.",
    ),
    "a signed field not posted": (
        lambda f: _listed_not_posted(gateway_response(f, "ACCEPT")),
        "The payment response lacks signed fields: reason_code.",
    ),
    "a field named twice": (
        lambda f: _duplicate_name(gateway_response(f, "ACCEPT")),
        "The payment response's signed_field_names is not a list of distinct field names.",
    ),
    "a field name holding '='": (
        lambda f: _name_holding_equals(gateway_response(f, "ACCEPT")),
        "The payment response's signed_field_names is not a list of distinct field names.",
    ),
    "signed_date_time alone": (
        _signed_date_time_alone,
        UNSIGNED.format("decision, req_reference_number, req_amount, req_currency, transaction_id"),
    ),
    "access_key signed": (
        _with_request_field("access_key"),
        REQUEST_MESSAGE.replace(
            "access_key, amount, consumer_id, currency, customer_ip_address", "access_key"
        ),
    ),
    "amount signed": (
        _with_request_field("amount"),
        REQUEST_MESSAGE.replace(
            "access_key, amount, consumer_id, currency, customer_ip_address", "amount"
        ),
    ),
    "item_0_name signed": (
        _with_request_field("item_0_name"),
        REQUEST_MESSAGE.replace(
            "access_key, amount, consumer_id, currency, customer_ip_address", "item_0_name"
        ),
    ),
    "signature of another payload": (
        lambda f: _with_signature_of(gateway_response(f, "ACCEPT"), gateway_response(f, "DECLINE")),
        NO_MATCH,
    ),
    "signed with another key": (
        lambda f: gateway_response(f, "ACCEPT", key="not-our-key"),
        NO_MATCH,
    ),
    "req_amount NaN": (
        lambda f: gateway_response(f, "ACCEPT", amount="NaN", auth_amount="100.00"),
        AMOUNT.format("req_amount", "NaN"),
    ),
    "req_amount Infinity": (
        lambda f: gateway_response(f, "ACCEPT", amount="Infinity", auth_amount="100.00"),
        AMOUNT.format("req_amount", "Infinity"),
    ),
    "req_amount 1e2": (
        lambda f: gateway_response(f, "ACCEPT", amount="1e2", auth_amount="100.00"),
        AMOUNT.format("req_amount", "1e2"),
    ),
    "req_amount empty": (
        lambda f: gateway_response(f, "ACCEPT", amount="", auth_amount="100.00"),
        AMOUNT.format("req_amount", ""),
    ),
    "req_amount in Arabic-Indic digits": (
        lambda f: gateway_response(f, "ACCEPT", amount="١٠٠.٠٠", auth_amount="100.00"),
        AMOUNT.format("req_amount", "١٠٠.٠٠"),
    ),
    "auth_amount NaN": (
        lambda f: gateway_response(f, "ACCEPT", auth_amount="NaN"),
        AMOUNT.format("auth_amount", "NaN"),
    ),
    "a declined req_amount -Infinity": (
        lambda f: gateway_response(f, "DECLINE", amount="-Infinity"),
        AMOUNT.format("req_amount", "-Infinity"),
    ),
    "wrong currency": (
        lambda f: _resigned(gateway_response(f, "ACCEPT"), req_currency="EUR"),
        MISMATCH.format("currency 'EUR'"),
    ),
    "a cent less": (
        lambda f: gateway_response(f, "ACCEPT", amount="99.99"),
        MISMATCH.format("amount 99.99, charged amount 99.99"),
    ),
    "a cent more": (
        lambda f: gateway_response(f, "ACCEPT", amount="100.01"),
        MISMATCH.format("amount 100.01, charged amount 100.01"),
    ),
    "charged a cent less": (
        lambda f: gateway_response(f, "ACCEPT", auth_amount="99.99"),
        MISMATCH.format("charged amount 99.99"),
    ),
    "declined for a cent less": (
        lambda f: gateway_response(f, "DECLINE", amount="99.99"),
        MISMATCH.format("amount 99.99"),
    ),
    "unknown decision": (
        lambda f: _resigned(gateway_response(f, "ACCEPT"), decision="PAID"),
        "The payment response's decision 'PAID' is unknown.",
    ),
    "no transaction ID": (
        lambda f: gateway_response(f, "ACCEPT", transaction_id=""),
        "The payment response names no transaction.",
    ),
}


@pytest.mark.parametrize("url", CALLBACKS)
@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_response_is_refused_and_changes_nothing(client, victim, forgery, url):
    forge, message = FORGERIES[forgery]
    fields = forge(victim.form)
    before = shop_state()

    response = client.post(url, fields)

    refused(response, message.format(order=victim.order.pk))
    assert shop_state() == before


# -- what the rules rest on --------------------------------------------------------------------------


def test_every_field_our_form_signs_is_refused_in_a_response(victim):
    names = set(victim.form["signed_field_names"].split(","))
    assert {n for n in names if not field_is_request_only(n)} == {
        "signed_field_names",
        "signed_date_time",
    }
    assert names >= REQUEST_ONLY
    genuine = gateway_response(victim.form, "ACCEPT")
    assert [n for n in genuine["signed_field_names"].split(",") if field_is_request_only(n)] == []


def test_a_genuine_response_keeps_only_its_signed_fields(victim):
    fields = {**gateway_response(victim.form, "ACCEPT"), "note": "unsigned", "signature2": "x"}

    response = payment_response_read(fields)

    assert set(response.fields) == {*fields["signed_field_names"].split(","), "signature"}
    assert (response.decision, response.amount, response.auth_amount, response.currency) == (
        "ACCEPT",
        100,
        100,
        "USD",
    )


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Acme,decision=ACCEPT", "Acme decision ACCEPT"),
        ("University of California, Berkeley - Data", "University of California Berkeley - Data"),
        ("Tab\there\r\nand\x00null\x7f", "Tab here andnull"),
        ("Zero\u200bwidth \u202eRTL\u2066", "Zerowidth RTL"),
        ("Fullwidth\uff0ccomma\uff1dequals", "Fullwidth comma equals"),
        ("Line\u2028separator", "Line separator"),
        ("  padded  ", "padded"),
    ],
)
def test_gateway_text_strips_separators_and_control_characters(text, clean):
    assert gateway_text(text, limit=254) == clean


def test_gateway_text_is_bounded():
    assert gateway_text("x" * 300, limit=254) == "x" * 254
    assert gateway_text("ab " * 100, limit=10) == "ab ab ab a"
    assert gateway_text("ab " * 100, limit=9) == "ab ab ab"


# -- the genuine responses, through either callback ------------------------------------------------


@pytest.mark.parametrize("url", CALLBACKS)
@pytest.mark.parametrize(
    ("decision", "state"),
    [("ACCEPT", "fulfilled"), ("DECLINE", "declined"), ("CANCEL", "canceled")],
)
def test_a_genuine_response_is_applied_through_either_callback(
    client, victim, decision, state, url, django_capture_on_commit_callbacks
):
    fields = gateway_response(victim.form, decision)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, fields)

    assert response.status_code == (200 if url.endswith("backoffice/") else 302)
    victim.order.refresh_from_db()
    assert victim.order.state == state
    recorded = list(
        Transaction.objects.values_list("order", "transaction_id", "decision", "amount", "data")
    )
    assert recorded == [(victim.order.pk, "7412345678", decision, 100, fields)]


# -- over real HTTP ----------------------------------------------------------------------------------


def _http_checkout(base: str, username: str, product_id: int, code: str) -> dict[str, str]:
    """A learner logs in and checks out in the running app over HTTP: the payment form."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=30)
    page = session.post(
        f"{base}/login/",
        {
            "login": username,
            "password": "a-long-passphrase",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
    )
    assert page.status_code == 200 and "sessionid" in session.cookies
    session.get(f"{base}/cart/add/?product_id={product_id}", timeout=30)
    token = {"csrfmiddlewaretoken": session.cookies["csrftoken"]}
    session.post(f"{base}/cart/code/", {**token, "code": code}, timeout=30)
    page = session.post(f"{base}/checkout/", token, timeout=30)
    assert page.status_code == 200
    return payment_form_fields(page.text)


@pytest.mark.django_db(transaction=True)
def test_forgeries_posted_to_the_running_app_are_refused(
    live_server, make_offer, payments, settings
):
    settings.SITE_BASE_URL = live_server.url
    base = live_server.url
    for username in ("bo", "eve"):
        UserFactory(username=username, password="a-long-passphrase")
    paid = make_offer("Acme Paid", "non-sso", max_learners=3, price="100")
    victim_form = _http_checkout(base, "bo", paid.product.pk, paid.codes[0])
    order = Order.objects.get(purchaser__username="bo")
    assert (order.state, order.total_price_paid) == ("pending", 100)
    # Staff name an organization after the victim's order; the attacker buys its product.
    evil = make_offer(
        "Acme Evil",
        "non-sso",
        max_learners=3,
        price="100",
        org=evil_name(order.reference_number),
        key="EVIL",
    )
    attacker_form = _http_checkout(base, "eve", evil.product.pk, evil.codes[0])
    assert "," not in attacker_form["item_0_name"] and "=" not in attacker_form["item_0_name"]
    forged = resplit(signed_before_cleaning(attacker_form), forged_names(attacker_form))
    assert forged is not None and forged["decision"] == "ACCEPT"
    forgeries = {
        "re-split request": (forged, REQUEST_MESSAGE),
        "the request itself": (attacker_form, REQUEST_MESSAGE),
        "unsigned decision": FORGERIES["unsigned decision"],
        "req_amount NaN": FORGERIES["req_amount NaN"],
        "a cent less": FORGERIES["a cent less"],
    }
    before = shop_state()

    for name, (fields, message) in forgeries.items():
        fields = fields(victim_form) if callable(fields) else fields
        for url in CALLBACKS:
            response = requests.post(f"{base}{url}", fields, timeout=30, allow_redirects=False)
            assert response.status_code == 400, (name, url, response.status_code)
            expected = escape(message.format(order=order.pk))
            assert f'data-code="invalid-payment-response">{expected}</p>' in response.text, name

    assert shop_state() == before
    # The genuine response for the same order still goes through.
    genuine = requests.post(
        f"{base}/checkout/backoffice/", gateway_response(victim_form, "ACCEPT"), timeout=30
    )
    assert (genuine.status_code, genuine.text) == (200, f"order {order.pk} fulfilled\n")
