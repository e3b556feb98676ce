"""The cart as a JSON API (SPEC §5): same services, refusals as 4xx {"code", "message"}."""

import pytest
from rest_framework.test import APIClient

from b2b.models import ContractMembership
from b2b.services.contracts import contract_modify
from b2b.services.courseware import courseware_remove
from courses.models import CourseRunEnrollment
from ecommerce.models import Order
from tests.ecommerce.helpers import shop_state
from tests.factories import CourseRunFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(learner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    client.get("/api/v0/basket/")  # the CSRF cookie, as a browser app gets it from the page
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def test_the_whole_flow_through_the_api(
    api, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=5)

    basket = api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    assert basket.status_code == 200
    assert basket.json() == {
        "items": [
            {
                "product_id": offer.product.pk,
                "description": offer.product.description,
                "course_title": "Data Analysis for Social Scientists",
                "run": offer.run.courseware_id,
                "price": "0.00",
                "discounted_price": "0.00",
            }
        ],
        "code": None,
        "total": "0.00",
        "contract": "Acme",
        "organization": "University X",
        "can_checkout": False,
        "refusal": {
            "code": "code-required",
            "message": "This course is offered through your organization: enter the enrollment "
            "code you were given to enroll.",
        },
    }

    applied = api.post(
        "/api/v0/basket/code/", {"code": f" {offer.codes[0].upper()}"}, format="json"
    )
    assert applied.status_code == 200
    assert (applied.json()["code"], applied.json()["can_checkout"], applied.json()["refusal"]) == (
        offer.codes[0],
        True,
        None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        checkout = api.post("/api/v0/checkout/")
    order = Order.objects.get()
    assert checkout.status_code == 201
    assert checkout.json() == {"order_id": order.pk, "status": "fulfilled", "payment": None}

    detail = api.get(f"/api/v0/orders/{order.pk}/").json()
    assert {
        k: detail[k] for k in ("id", "status", "total", "reference_number", "codes", "lines")
    } == {
        "id": order.pk,
        "status": "fulfilled",
        "total": "0.00",
        "reference_number": "",
        "codes": [offer.codes[0]],
        "lines": [
            {
                "product_id": offer.product.pk,
                "description": offer.product.description,
                "run": offer.run.courseware_id,
                "unit_price": "0.00",
                "discounted_price": "0.00",
            }
        ],
    }
    enrollments = api.get("/api/v0/enrollments/").json()
    assert [(e["run"], e["contract"], e["organization"]) for e in enrollments] == [
        (offer.run.courseware_id, "Acme", "University X")
    ]


def test_checkout_without_a_code_is_refused_with_nothing_written(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    before = shop_state()

    response = api.post("/api/v0/checkout/")

    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "code-required",
            "message": "This course is offered through your organization: enter the enrollment "
            "code you were given to enroll.",
        },
    )
    assert shop_state() == before


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            {"code": "nope"},
            400,
            {
                "code": "invalid-code",
                "message": "“nope” is not a valid enrollment "
                "code: check it against the one you were given.",
            },
        ),
        ({}, 400, {"code": "invalid-input", "message": "code: This field is required."}),
    ],
)
def test_code_refusals_have_the_refusal_shape(api, make_offer, body, status, expected):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")

    response = api.post("/api/v0/basket/code/", body, format="json")

    assert (response.status_code, response.json()) == (status, expected)


def test_unknown_product_and_foreign_order_are_404(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    other = UserFactory(username="bo")
    foreign = Order.objects.create(purchaser=other, state="fulfilled")

    product = api.post(
        "/api/v0/basket/items/", {"product_id": offer.product.pk + 100}, format="json"
    )
    order = api.get(f"/api/v0/orders/{foreign.pk}/")

    assert (product.status_code, product.json()["code"]) == (404, "product-not-found")
    assert (order.status_code, order.json()) == (
        404,
        {"code": "order-not-found", "message": f"You have no order {foreign.pk}."},
    )


def test_priced_checkout_returns_the_signed_payment_form_and_a_retry_the_same_order(
    api, make_offer, payments
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=5, price="99.50")
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")

    first = api.post("/api/v0/checkout/")
    second = api.post("/api/v0/checkout/")

    order = Order.objects.get()
    assert first.status_code == 201 and second.status_code == 200
    body = first.json()
    payment = body["payment"]
    assert (body["order_id"], body["status"], payment["url"], payment["method"]) == (
        order.pk,
        "pending",
        "https://testsecureacceptance.cybersource.com/pay",
        "POST",
    )
    assert (body["payment"]["fields"]["amount"], body["payment"]["fields"]["reference_number"]) == (
        "99.50",
        f"b2b-{order.pk}",
    )
    assert second.json()["order_id"] == order.pk


def test_priced_checkout_without_payments_is_refused(api, make_offer):
    offer = make_offer("Acme Paid", "non-sso", max_learners=5, price="99.50")
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")
    before = shop_state()

    response = api.post("/api/v0/checkout/")

    assert (response.status_code, response.json()["code"]) == (409, "payments-not-configured")
    assert shop_state() == before


def test_the_api_needs_a_session_and_the_csrf_token(make_offer, learner):
    anonymous = APIClient(enforce_csrf_checks=True)
    response = anonymous.post("/api/v0/checkout/")
    assert (response.status_code, response.json()) == (
        403,
        {"code": "not-authenticated", "message": "Authentication credentials were not provided."},
    )
    no_token = APIClient(enforce_csrf_checks=True)
    no_token.force_login(learner)
    response = no_token.post("/api/v0/basket/code/", {"code": "x"}, format="json")
    assert (response.status_code, response.json()) == (
        403,
        {"code": "csrf-failed", "message": "CSRF Failed: CSRF cookie not set."},
    )


def test_me_is_the_signed_in_learner(api, learner):
    assert api.get("/api/v0/me/").json() == {
        "id": learner.pk,
        "username": "ada",
        "email": "ada@example.edu",
        "name": "Ada Learner",
    }


def test_the_schema_documents_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = response.json()
    assert response.status_code == 200
    assert sorted(schema["paths"]) == [
        "/api/v0/basket/",
        "/api/v0/basket/code/",
        "/api/v0/basket/items/",
        "/api/v0/checkout/",
        "/api/v0/contracts/join/",
        "/api/v0/courses/",
        "/api/v0/courses/{readable_id}/",
        "/api/v0/enrollments/",
        "/api/v0/manage/contracts/{contract_id}/",
        "/api/v0/manage/contracts/{contract_id}/assignments/",
        "/api/v0/manage/contracts/{contract_id}/codes/",
        "/api/v0/manage/contracts/{contract_id}/learners/",
        "/api/v0/manage/organizations/",
        "/api/v0/me/",
        "/api/v0/orders/{order_id}/",
    ]
    checkout = schema["paths"]["/api/v0/checkout/"]["post"]["responses"]
    assert sorted(checkout) == ["200", "201", "400", "403", "404", "409", "429"]
    request = schema["paths"]["/api/v0/checkout/"]["post"]["requestBody"]["content"]
    assert schema["components"]["schemas"]["CheckoutCode"]["properties"]["code"]["type"] == "string"
    assert request["application/json"]["schema"] == {"$ref": "#/components/schemas/CheckoutCode"}
    assert schema["components"]["schemas"]["Refusal"]["required"] == ["code", "message"]


# -- the enroll API: no way around the contract rules ---------------------------------------------


def test_the_enroll_api_refuses_a_contract_run_without_a_code(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    before = shop_state()

    response = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "code-required")
    assert shop_state() == before


def test_the_enroll_api_lets_a_free_sso_member_in_without_a_code(
    api, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme SSO", "sso")
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="sso")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")
    again = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")

    assert response.status_code == 201
    assert (response.json()["run"], response.json()["contract"]) == (
        offer.run.courseware_id,
        "Acme SSO",
    )
    # Go to course: the LMS address (the test default is the API base URL: none here).
    assert response.json()["courseware_url"] is None
    assert (again.status_code, again.json()["code"]) == (409, "already-enrolled")
    assert CourseRunEnrollment.objects.filter(user=learner, run=offer.run).count() == 1


def test_the_enroll_api_refuses_an_inactive_free_sso_contract(api, make_offer, learner):
    offer = make_offer("Acme SSO", "sso")
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="sso")
    contract_modify(offer.contract.pk, active=False)

    response = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "contract-inactive")


def test_the_enroll_api_opens_public_runs_and_refuses_unknown_ones(api, catalog, learner):
    public = CourseRunFactory(course=catalog.micro, run_tag="1T2026")

    created = api.post("/api/v0/enrollments/", {"run": public.courseware_id}, format="json")
    source = api.post(
        "/api/v0/enrollments/", {"run": "course-v1:MITxT+14.100x+SOURCE"}, format="json"
    )
    unknown = api.post("/api/v0/enrollments/", {"run": "course-v1:X+Y+Z"}, format="json")

    assert created.status_code == 201
    assert (source.status_code, source.json()["code"]) == (409, "run-not-enrollable")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "run-not-found")


def test_a_run_that_left_its_contract_cannot_be_bought_or_enrolled(
    api, make_offer, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    with django_capture_on_commit_callbacks(execute=True):
        courseware_remove(offer.contract.pk, offer.run.course.readable_id)
    before = shop_state()

    item = api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    enroll = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")

    assert (item.status_code, item.json()["code"]) == (409, "product-unavailable")
    assert (enroll.status_code, enroll.json()["code"]) == (409, "run-not-enrollable")
    assert shop_state() == before


def test_checkout_records_the_new_membership_in_the_contract_history(api, make_offer, learner):
    from b2b.services.audit import contract_history

    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")

    assert api.post("/api/v0/checkout/").status_code == 201

    entry = contract_history(offer.contract.pk)[-1]
    assert (entry.actor, entry.via, entry.action, entry.changes) == (
        "ada@example.edu",
        "checkout",
        "membership.add",
        {
            "learner": {"before": None, "after": "ada@example.edu"},
            "source": {"before": None, "after": "code"},
            "learners": {"before": 0, "after": 1},
        },
    )


def test_unknown_api_addresses_and_oversized_bodies_get_the_api_shape(api, settings):
    # an address no endpoint answers, signed in or not
    for client in (api, APIClient()):
        response = client.get("/api/v0/nope/")
        assert (response.status_code, response["Content-Type"], response.json()) == (
            404,
            "application/json",
            {
                "code": "not-found",
                "message": "No API endpoint at /api/v0/nope/: /api/schema/ lists them.",
            },
        )
    # an order ID that is not a number matches no endpoint either
    assert api.get("/api/v0/orders/abc/").json()["code"] == "not-found"
    # a body over Django's limit
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = api.post(
        "/api/v0/basket/items/", {"product_id": 1, "pad": "x" * 2_000}, format="json"
    )
    assert (response.status_code, response.json()) == (
        413,
        {
            "code": "request-too-large",
            "message": "The request body is too large: send the JSON fields only.",
        },
    )


def test_an_enrolled_learner_is_told_so_before_being_asked_for_a_code(
    api, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v0/checkout/").status_code == 201

    # the same course again, without a code: the cart, checkout and the enroll API all say why
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    basket = api.get("/api/v0/basket/").json()
    checkout = api.post("/api/v0/checkout/")
    enroll = api.post("/api/v0/enrollments/", {"run": offer.run.courseware_id}, format="json")

    message = f"You are already enrolled in {offer.run.title}: find the course on My courses."
    assert basket["refusal"] == {"code": "already-enrolled", "message": message}
    assert (checkout.status_code, checkout.json()) == (
        409,
        {"code": "already-enrolled", "message": message},
    )
    assert (enroll.status_code, enroll.json()["code"]) == (409, "already-enrolled")


# -- the code in the checkout request ------------------------------------------------------------


def test_checkout_applies_a_code_sent_with_it_in_one_request(
    api, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")

    with django_capture_on_commit_callbacks(execute=True):
        checkout = api.post(
            "/api/v0/checkout/", {"code": f" {offer.codes[1].upper()} "}, format="json"
        )

    order = Order.objects.get()
    assert (checkout.status_code, checkout.json()) == (
        201,
        {"order_id": order.pk, "status": "fulfilled", "payment": None},
    )
    assert api.get(f"/api/v0/orders/{order.pk}/").json()["codes"] == [offer.codes[1]]
    assert list(
        CourseRunEnrollment.objects.filter(user=learner).values_list("run_id", "active")
    ) == [(offer.run.pk, True)]
    assert list(
        ContractMembership.objects.filter(user=learner).values_list("contract_id", "source")
    ) == [(offer.contract.pk, "code")]
    basket = api.get("/api/v0/basket/").json()
    assert (basket["items"], basket["code"]) == ([], None)


def test_a_code_sent_with_checkout_replaces_the_applied_one(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")

    checkout = api.post("/api/v0/checkout/", {"code": offer.codes[2]}, format="json")

    assert checkout.status_code == 201
    assert api.get(f"/api/v0/orders/{checkout.json()['order_id']}/").json()["codes"] == [
        offer.codes[2]
    ]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (
            "nope",
            400,
            {
                "code": "invalid-code",
                "message": "“nope” is not a valid enrollment code: check it against the one "
                "you were given.",
            },
        ),
        ("", 400, {"code": "invalid-code", "message": "Enter the enrollment code you were given."}),
        (
            "used",
            409,
            {
                "code": "code-used",
                "message": "This enrollment code has already been used: each code admits one "
                "learner. Ask the organization that gave it to you for another.",
            },
        ),
        (
            "other-course",
            400,
            {
                "code": "code-not-for-product",
                "message": "This enrollment code is for another course: open the link that "
                "came with it, or check that you typed the code for this course.",
            },
        ),
    ],
)
def test_a_code_sent_with_checkout_is_refused_as_applying_it_is_with_nothing_written(
    api, make_offer, code, status, expected
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    other = make_offer("Other", "non-sso", max_learners=5, key="OX", org="Other U")
    bea = APIClient()
    bea.force_login(UserFactory(username="bea"))
    bea.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    bea.post("/api/v0/basket/code/", {"code": offer.codes[0]}, format="json")
    assert bea.post("/api/v0/checkout/").status_code == 201
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    api.post("/api/v0/basket/code/", {"code": offer.codes[3]}, format="json")
    typed = {"used": offer.codes[0], "other-course": other.codes[0]}.get(code, code)
    before = shop_state()
    applied = api.post("/api/v0/basket/code/", {"code": typed}, format="json")
    assert shop_state() == before

    response = api.post("/api/v0/checkout/", {"code": typed}, format="json")

    assert (response.status_code, response.json()) == (status, expected)
    assert (applied.status_code, applied.json()) == (status, expected)
    assert shop_state() == before
    assert api.get("/api/v0/basket/").json()["code"] == offer.codes[3]


def test_a_full_contract_refuses_a_code_sent_with_checkout(api, make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=1)
    ContractMembership.objects.create(
        user=UserFactory(username="bea"), contract=offer.contract, source="manual"
    )
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")
    before = shop_state()

    response = api.post("/api/v0/checkout/", {"code": offer.codes[0]}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "contract-full")
    assert shop_state() == before


def test_codes_sent_with_checkout_count_against_the_learners_attempts(api, make_offer, settings):
    settings.CODE_ATTEMPTS_PER_LEARNER = "2/minute"
    offer = make_offer("Acme", "non-sso", max_learners=5)
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")

    statuses = [
        api.post("/api/v0/basket/code/", {"code": "nope"}, format="json").status_code,
        api.post("/api/v0/checkout/", {"code": "nope"}, format="json").status_code,
        api.post("/api/v0/checkout/", {"code": offer.codes[0]}, format="json").status_code,
    ]

    assert statuses == [400, 400, 429]
    assert Order.objects.count() == 0


def test_a_priced_checkout_with_its_code_keeps_the_code_on_the_basket(api, make_offer, payments):
    offer = make_offer("Acme Paid", "non-sso", max_learners=5, price="99.50")
    api.post("/api/v0/basket/items/", {"product_id": offer.product.pk}, format="json")

    first = api.post("/api/v0/checkout/", {"code": offer.codes[0]}, format="json")
    again = api.post("/api/v0/checkout/")

    assert (first.status_code, first.json()["status"]) == (201, "pending")
    assert (again.status_code, again.json()["order_id"]) == (200, first.json()["order_id"])
    assert api.get("/api/v0/basket/").json()["code"] == offer.codes[0]
