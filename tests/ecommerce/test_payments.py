"""Priced checkout through CyberSource Secure Acceptance (SPEC §5): the signed form, the signed
callback, decline and cancel freeing the code, retries reusing the pending order. The gateway's
side of the protocol is played here (``tests.ecommerce.helpers``), signing with the test key."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from b2b.models import ContractMembership
from courses.models import CourseRunEnrollment
from ecommerce.models import (
    BasketItem,
    Discount,
    DiscountProduct,
    DiscountRedemption,
    Order,
    Transaction,
)
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout
from tests.ecommerce.helpers import gateway_response, shop_state, sign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FORM_FIELDS = {
    "access_key",
    "amount",
    "consumer_id",
    "currency",
    "customer_ip_address",
    "item_0_code",
    "item_0_name",
    "item_0_quantity",
    "item_0_sku",
    "item_0_tax_amount",
    "item_0_unit_price",
    "line_item_count",
    "locale",
    "override_backoffice_post_url",
    "override_custom_cancel_page",
    "override_custom_receipt_page",
    "profile_id",
    "reference_number",
    "signed_date_time",
    "signed_field_names",
    "tax_amount",
    "transaction_type",
    "transaction_uuid",
    "unsigned_field_names",
    "signature",
}


@pytest.fixture
def priced(make_offer):
    return make_offer("Acme Paid", "non-sso", max_learners=3, price="250")


def _pending(client, offer, code, learner):
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": code})
    return client.post("/checkout/", REMOTE_ADDR="203.0.113.7")


def _form(order_id: int) -> dict[str, str]:
    order = Order.objects.get(pk=order_id)
    from ecommerce.services.payments import order_payment_form

    return order_payment_form(order, ip_address="203.0.113.7").fields


def test_without_payments_configured_a_priced_checkout_refuses_and_consumes_nothing(
    client, priced, learner
):
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={priced.product.pk}")
    client.post("/cart/code/", {"code": priced.codes[0]})
    page = client.get("/cart/").content.decode()
    assert 'data-code="payments-not-configured"' in page
    assert "Check out" not in page
    before = shop_state()

    response = client.post("/checkout/")

    messages = [(m.extra_tags, m.message) for m in get_messages(response.wsgi_request)]
    assert messages == [
        (
            "payments-not-configured",
            "Payments are not available on this site yet, so this course cannot be bought now: "
            "nothing was charged and your code stays unused. Try again later.",
        )
    ]
    assert shop_state() == before


def test_without_payments_configured_a_member_is_refused_without_talk_of_a_code(
    client, priced, learner
):
    # A member (joined with a code, spent on joining) buys with no code applied.
    client.force_login(learner)
    client.post("/join/", {"code": priced.codes[0]})
    client.get(f"/cart/add/?product_id={priced.product.pk}")
    refusal = (
        "Payments are not available on this site yet, so this course cannot be bought now: "
        "nothing was charged. Try again later."
    )
    assert refusal in client.get("/cart/").content.decode()
    before = shop_state()

    response = client.post("/checkout/")

    messages = [(m.extra_tags, m.message) for m in get_messages(response.wsgi_request)]
    assert messages == [("payments-not-configured", refusal)]
    assert shop_state() == before


def test_priced_checkout_makes_a_pending_order_and_a_signed_form(client, priced, learner, payments):
    response = _pending(client, priced, priced.codes[0], learner)

    order = Order.objects.get()
    assert (order.state, order.total_price_paid, order.reference_number) == (
        "pending",
        250,
        f"b2b-{order.pk}",
    )
    payment = response.context["payment"]
    assert payment.url == "https://testsecureacceptance.cybersource.com/pay"
    assert payment.method == "POST"
    fields = payment.fields
    assert set(fields) == FORM_FIELDS
    assert {
        k: fields[k]
        for k in (
            "access_key",
            "profile_id",
            "amount",
            "currency",
            "reference_number",
            "transaction_type",
            "item_0_unit_price",
            "item_0_sku",
            "line_item_count",
            "customer_ip_address",
            "override_custom_receipt_page",
            "override_backoffice_post_url",
        )
    } == {
        "access_key": "test-access-key",
        "profile_id": "test-profile-id",
        "amount": "250.00",
        "currency": "USD",
        "reference_number": f"b2b-{order.pk}",
        "transaction_type": "sale",
        "item_0_unit_price": "250.00",
        "item_0_sku": str(priced.product.pk),
        "line_item_count": "1",
        "customer_ip_address": "203.0.113.7",
        "override_custom_receipt_page": "http://testserver/checkout/result/",
        "override_backoffice_post_url": "http://testserver/checkout/backoffice/",
    }
    assert fields["signed_field_names"].split(",") == sorted(FORM_FIELDS - {"signature"})
    assert fields["signature"] == sign(fields)
    page = response.content.decode()
    assert '<form method="post" action="https://testsecureacceptance.cybersource.com/pay"' in page
    assert f'<input type="hidden" name="signature" value="{fields["signature"]}">' in page
    # The code and the seat are held; nobody is enrolled or attached yet.
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_order")
    ) == [(priced.codes[0], order.pk)]
    assert CourseRunEnrollment.objects.count() == ContractMembership.objects.count() == 0
    assert BasketItem.objects.count() == 1


def test_a_retried_checkout_reuses_the_pending_order(client, priced, learner, payments):
    _pending(client, priced, priced.codes[0], learner)
    first = Order.objects.get()

    again = basket_checkout(learner, ip_address="203.0.113.7")

    assert (again.order.pk, again.reused, again.status) == (first.pk, True, "pending")
    assert Order.objects.count() == 1
    assert DiscountRedemption.objects.count() == 1


def test_changing_the_code_of_a_pending_order_cancels_it_and_frees_the_old_code(
    client, priced, learner, payments
):
    _pending(client, priced, priced.codes[0], learner)
    first = Order.objects.get()
    basket_code_apply(learner, code=priced.codes[1])

    result = basket_checkout(learner)

    first.refresh_from_db()
    assert first.state == "canceled"
    assert (result.order.state, result.reused) == ("pending", False)
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_order")
    ) == [(priced.codes[1], result.order.pk)]


def test_a_code_held_by_a_pending_order_cannot_be_used_by_someone_else(
    client, priced, learner, payments
):
    _pending(client, priced, priced.codes[0], learner)
    other = UserFactory(username="bo")
    basket_replace(other, product_id=priced.product.pk)

    from ecommerce.exceptions import CodeUsed

    with pytest.raises(CodeUsed):
        basket_code_apply(other, code=priced.codes[0])


def test_an_accepted_payment_fulfils_the_order_once(
    client, priced, learner, payments, django_capture_on_commit_callbacks
):
    _pending(client, priced, priced.codes[0], learner)
    order = Order.objects.get()
    response_fields = gateway_response(_form(order.pk), "ACCEPT")
    client.logout()  # the gateway's post carries no session cookie

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/checkout/result/", response_fields)

    assert response["Location"] == f"/dashboard/?order={order.pk}"
    order.refresh_from_db()
    assert order.state == "fulfilled"
    assert list(CourseRunEnrollment.objects.values_list("user", "run")) == [
        (learner.pk, priced.run.pk)
    ]
    assert list(ContractMembership.objects.values_list("user", "source")) == [(learner.pk, "code")]
    assert BasketItem.objects.count() == 0
    transactions = Transaction.objects.values_list("order", "transaction_id", "decision", "amount")
    assert list(transactions) == [(order.pk, "7412345678", "ACCEPT", 250)]
    before = shop_state()

    again = client.post("/checkout/backoffice/", response_fields)  # the gateway's own post

    assert (again.status_code, again.content) == (200, f"order {order.pk} fulfilled\n".encode())
    assert shop_state() == before


@pytest.mark.parametrize(
    ("decision", "state"), [("DECLINE", "declined"), ("CANCEL", "canceled"), ("ERROR", "declined")]
)
def test_a_declined_or_canceled_payment_frees_the_code_for_someone_else(
    client, priced, learner, payments, decision, state, django_capture_on_commit_callbacks
):
    _pending(client, priced, priced.codes[0], learner)
    order = Order.objects.get()
    client.logout()

    response = client.post("/checkout/result/", gateway_response(_form(order.pk), decision))

    assert response["Location"] == f"/cart/?order={order.pk}"
    order.refresh_from_db()
    assert order.state == state
    assert DiscountRedemption.objects.count() == 0
    assert CourseRunEnrollment.objects.count() == ContractMembership.objects.count() == 0
    client.force_login(learner)
    cart = client.get(response["Location"]).content.decode()
    assert f"for order {order.pk}" in cart and "your enrollment code was released" in cart

    other = UserFactory(username="bo")
    basket_replace(other, product_id=priced.product.pk)
    basket_code_apply(other, code=priced.codes[0])
    second = basket_checkout(other)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/checkout/backoffice/",
            gateway_response(_form(second.order.pk), "ACCEPT", transaction_id="7499999999"),
        )
    second.order.refresh_from_db()
    assert second.order.state == "fulfilled"
    assert list(DiscountRedemption.objects.values_list("redeemed_by", "redeemed_order")) == [
        (other.pk, second.order.pk)
    ]


def test_a_payment_under_review_keeps_the_order_pending(client, priced, learner, payments):
    _pending(client, priced, priced.codes[0], learner)
    order = Order.objects.get()

    response = client.post("/checkout/backoffice/", gateway_response(_form(order.pk), "REVIEW"))

    assert response.content == f"order {order.pk} pending\n".encode()
    assert DiscountRedemption.objects.count() == 1
    assert CourseRunEnrollment.objects.count() == 0


@pytest.mark.parametrize("tamper", ["key", "amount-after-signing", "unsigned", "foreign-reference"])
def test_an_unsigned_or_altered_callback_is_refused_and_changes_nothing(
    client, priced, learner, payments, tamper
):
    _pending(client, priced, priced.codes[0], learner)
    order = Order.objects.get()
    form = _form(order.pk)
    if tamper == "key":
        fields = gateway_response(form, "ACCEPT", key="not-our-key")
    elif tamper == "amount-after-signing":
        fields = gateway_response(form, "ACCEPT")
        fields["req_amount"] = "0.01"
    elif tamper == "unsigned":
        fields = gateway_response(form, "ACCEPT")
        del fields["signature"]
    else:
        fields = gateway_response({**form, "reference_number": "someone-else-12"}, "ACCEPT")
    before = shop_state()

    response = client.post("/checkout/result/", fields)

    assert response.status_code == 400
    message = {
        "key": "The payment response&#x27;s signature does not match.",
        "amount-after-signing": "The payment response&#x27;s signature does not match.",
        "unsigned": "The payment response is not signed.",
        "foreign-reference": "The reference number &#x27;someone-else-12&#x27; is not one of ours.",
    }[tamper]
    assert (
        f'<p class="notice error" role="alert" data-code="invalid-payment-response">{message}</p>'
        in response.content.decode()
    )
    assert shop_state() == before


def test_an_accepted_payment_of_the_wrong_amount_is_refused_and_logged_for_a_refund(
    client, priced, learner, payments, caplog
):
    _pending(client, priced, priced.codes[0], learner)
    order = Order.objects.get()
    fields = gateway_response(_form(order.pk), "ACCEPT", amount="25.00")
    before = shop_state()

    response = client.post("/checkout/backoffice/", fields)

    assert response.status_code == 400
    assert shop_state() == before  # the order stays pending, nothing is recorded
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"Payment 7412345678 accepted for order {order.pk} with amount 25.00, charged amount "
        "25.00, the order is 250.00 USD: refused; refund it."
    ]


def test_a_free_checkout_of_the_same_course_cancels_the_pending_order_and_frees_its_code(
    client, priced, learner, payments
):
    _pending(client, priced, priced.codes[0], learner)
    first = Order.objects.get()
    free = Discount.objects.create(
        discount_code="FREE-FOR-ADA",
        amount=Decimal("100"),
        discount_type=Discount.DiscountType.PERCENT_OFF,
        redemption_type=Discount.RedemptionType.ONE_TIME,
        payment_type=Discount.PaymentType.STAFF,
    )
    DiscountProduct.objects.create(discount=free, product=priced.product)

    result = basket_checkout(learner, code="free-for-ada")

    first.refresh_from_db()
    assert (first.state, result.order.state, result.order.total_price_paid) == (
        "canceled",
        "fulfilled",
        Decimal("0.00"),
    )
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_order")
    ) == [("FREE-FOR-ADA", result.order.pk)]
    assert BasketItem.objects.count() == 0
    assert list(ContractMembership.objects.values_list("user__username", flat=True)) == [
        learner.username
    ]
