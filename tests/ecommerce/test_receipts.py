"""Every fulfilled order mails its purchaser a receipt through the outgoing mail: a free order at
checkout, a paid one when the gateway accepts the payment; never for an order not fulfilled."""

from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from courses.models import CourseRun
from ecommerce.models import Line, Order, Product
from ecommerce.services.receipts import order_receipt_queue
from main.models import OutgoingMail
from tests.ecommerce.helpers import gateway_response
from tests.factories import CourseRunFactory, UserFactory

pytestmark = pytest.mark.django_db


def receipt_text(order: Order, *, organization: str | None, price: str) -> str:
    day = timezone.localtime(order.updated_on).strftime("%-d %B %Y")
    organization_line = f"Organization: {organization}\n" if organization else ""
    return (
        "Hello Ada Learner,\n\n"
        "Thank you: your order is complete and you are enrolled. Keep this email as your "
        "receipt.\n\n"
        f"Order number: b2b-{order.pk}\n"
        f"Date: {day}\n\n"
        "Course: Data Analysis for Social Scientists\n"
        f"{organization_line}"
        f"Price: ${price}\n\n"
        f"Amount paid: ${price}\n\n"
        "Find your course on My courses: http://testserver/dashboard/\n\n"
        "Learning\n"
        "http://testserver/\n"
    )


@pytest.fixture
def site(settings):
    settings.SITE_BASE_URL = "http://testserver"
    settings.DEFAULT_FROM_EMAIL = "Learning <no-reply@learn.example.edu>"


def test_a_free_order_mails_its_receipt_when_the_checkout_completes(
    client, make_offer, learner, site, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme Contract", "non-sso", max_learners=5, org="Acme University")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/")

    order = Order.objects.get()
    assert order.state == "fulfilled"
    assert [(m.to, m.from_email, m.subject, m.body) for m in mail.outbox] == [
        (
            ["ada@example.edu"],
            "Learning <no-reply@learn.example.edu>",
            f"Your receipt for order b2b-{order.pk}",
            receipt_text(order, organization="Acme University", price="0.00"),
        )
    ]
    html = mail.outbox[0].alternatives[0][0]
    assert f'<td style="padding:.3rem 0;">b2b-{order.pk}</td>' in html
    assert '<td style="padding:.3rem 0;">Acme University</td>' in html
    assert list(OutgoingMail.objects.values_list("key", "template", "status", "user")) == [
        (f"receipt:order:{order.pk}", "ecommerce/mail/receipt", "sent", learner.pk)
    ]


def test_a_paid_order_mails_its_receipt_when_the_payment_is_accepted_and_only_then(
    client, make_offer, learner, payments, site, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=3, price="250", org="Acme University")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/", REMOTE_ADDR="203.0.113.7")
    order = Order.objects.get()
    assert (order.state, mail.outbox, OutgoingMail.objects.count()) == ("pending", [], 0)

    from ecommerce.services.payments import order_payment_form

    accepted = gateway_response(order_payment_form(order, ip_address="").fields, "ACCEPT")
    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/result/", accepted)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/backoffice/", accepted)  # the gateway's second post: no new mail

    order.refresh_from_db()
    assert order.state == "fulfilled"
    assert [(m.to, m.subject, m.body) for m in mail.outbox] == [
        (
            ["ada@example.edu"],
            f"Your receipt for order b2b-{order.pk}",
            receipt_text(order, organization="Acme University", price="250.00"),
        )
    ]


@pytest.mark.parametrize("decision", ["DECLINE", "CANCEL"])
def test_a_declined_or_canceled_payment_mails_no_receipt(
    client, make_offer, learner, payments, site, decision, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=3, price="250")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})
    client.post("/checkout/")
    order = Order.objects.get()
    from ecommerce.services.payments import order_payment_form

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/checkout/result/",
            gateway_response(order_payment_form(order, ip_address="").fields, decision),
        )

    assert (OutgoingMail.objects.count(), mail.outbox) == (0, [])


def test_a_refused_checkout_mails_nothing(
    client, make_offer, learner, site, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme Contract", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")  # no code applied

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post("/checkout/")

    assert (Order.objects.count(), OutgoingMail.objects.count(), callbacks) == (0, 0, [])


def test_a_course_outside_any_contract_has_no_organization_on_its_receipt(
    site, django_capture_on_commit_callbacks
):
    ada = UserFactory(username="ada", email="ada@example.edu", name="Ada Learner")
    run = CourseRunFactory(title="Data Analysis for Social Scientists")
    product = Product.objects.create(course_run=run, price=Decimal("49.50"), description="x")
    order = Order.objects.create(purchaser=ada, state="fulfilled", total_price_paid="49.50")
    Line.objects.create(order=order, product=product, unit_price="49.50", discounted_price="49.50")
    order.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        order_receipt_queue(order)
        order_receipt_queue(order)  # once per order

    assert CourseRun.objects.get().b2b_contract is None
    assert [m.body for m in mail.outbox] == [receipt_text(order, organization=None, price="49.50")]


def test_a_purchaser_without_an_email_gets_no_receipt(caplog):
    nobody = UserFactory(username="nomail", email="")
    order = Order.objects.create(purchaser=nobody, state="fulfilled")

    assert order_receipt_queue(order) is None
    assert OutgoingMail.objects.count() == 0
    assert f"Order {order.pk}: its purchaser nomail has no email, no receipt." in caplog.messages
