"""The cart as a learner uses it through the pages (SPEC §5): Product URL, code, checkout."""

from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages

from b2b.models import ContractMembership
from b2b.services.code_operations import codes_deactivate
from b2b.services.contracts import contract_modify
from courses.models import CourseRunEnrollment
from ecommerce.models import BasketDiscount, BasketItem, DiscountRedemption, Line, Order
from tests.ecommerce.helpers import shop_state
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def refusals(response) -> list[tuple[str, str]]:
    return [(m.extra_tags, m.message) for m in get_messages(response.wsgi_request)]


def test_product_url_asks_to_log_in_then_comes_back_to_the_cart(client, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    url = f"/cart/add/?product_id={offer.product.pk}"

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={quote(url, safe='/')}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b'<label for="id_login">Email or username</label>' in page.content

    response = client.post("/login/", {"login": "ada", "password": "learner-password", "next": url})
    assert (response.status_code, response["Location"]) == (302, url)
    response = client.get(url)
    assert (response.status_code, response["Location"]) == (302, "/cart/")
    assert list(BasketItem.objects.values_list("basket__user__username", "product_id")) == [
        ("ada", offer.product.pk)
    ]
    cart = client.get("/cart/").content.decode()
    assert offer.run.courseware_id not in cart  # no internal keys in what a learner reads
    assert "Data Analysis for Social Scientists" in cart
    assert 'data-testid="total">$0.00<' in cart


def test_product_url_empties_the_basket_first(client, make_offer, learner, catalog):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    other = make_offer("Acme", "non-sso", max_learners=5, course=catalog.micro)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})
    assert BasketDiscount.objects.count() == 1

    client.get(f"/cart/add/?product_id={other.product.pk}")

    assert list(BasketItem.objects.values_list("product_id", flat=True)) == [other.product.pk]
    assert BasketDiscount.objects.count() == 0


@pytest.mark.parametrize("raw", ["999999", "abc", "", "-3"])
def test_a_bad_product_url_says_so_and_keeps_the_basket(client, make_offer, learner, raw):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")

    response = client.get(f"/cart/add/?product_id={raw}")

    # The cart, with the reason, at the refusal's status (a redirect would hide it from scripts).
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Your cart</h1>" in page
    expected = (
        "This course link leads to no course: open it exactly as you were given it, or ask the "
        "organization that gave it to you for a new one."
        if raw == "999999"
        else "This course link is incomplete: open it exactly as you were given it (the whole "
        "link), or ask the organization that gave it to you for a new one."
    )
    assert refusals(response) == [("product-not-found", expected)]
    # The reason alone: the basket's earlier product is not shown under it, nor URL syntax.
    assert offer.run.title not in page
    assert "product_id" not in page.split("<main", 1)[1]
    assert "Your cart was left as it was." in page
    assert list(BasketItem.objects.values_list("product_id", flat=True)) == [offer.product.pk]


def test_zero_value_contract_basket_has_no_checkout_button_until_a_code_is_applied(
    client, make_offer, learner
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")

    page = client.get("/cart/").content.decode()
    assert "Check out" not in page
    assert 'data-code="code-required"' in page

    response = client.post("/cart/code/", {"code": f"  {offer.codes[0].upper()} "})
    assert response["Location"] == "/cart/"
    assert refusals(response) == [("code-applied", f"Code {offer.codes[0]} applied.")]
    page = client.get("/cart/").content.decode()
    assert f'<span data-testid="applied-code">{offer.codes[0]}</span> applied' in page
    assert '<button type="submit" class="primary">Check out</button>' in page


def test_zero_value_checkout_enrolls_attaches_redeems_and_lands_on_the_dashboard(
    client, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[1]})

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/checkout/")

    order = Order.objects.get()
    assert response["Location"] == f"/dashboard/?order={order.pk}"
    assert (order.purchaser, order.state, order.total_price_paid) == (learner, "fulfilled", 0)
    assert list(Line.objects.values_list("product_id", "unit_price", "discounted_price")) == [
        (offer.product.pk, 0, 0)
    ]
    assert list(
        DiscountRedemption.objects.values_list(
            "redeemed_discount__discount_code", "redeemed_by", "redeemed_order", "is_one_time"
        )
    ) == [(offer.codes[1], learner.pk, order.pk, True)]
    assert list(CourseRunEnrollment.objects.values_list("user", "run", "active", "edx_status")) == [
        (learner.pk, offer.run.pk, True, "not-configured")
    ]
    assert list(ContractMembership.objects.values_list("user", "contract", "source")) == [
        (learner.pk, offer.contract.pk, "code")
    ]
    assert BasketItem.objects.count() == BasketDiscount.objects.count() == 0
    dashboard = client.get(response["Location"]).content.decode()
    assert f'data-run="{offer.run.pk}" data-status="enrolled"' in dashboard
    assert (
        f"Order {order.pk} is complete: you are enrolled in Data Analysis for Social Scientists."
        in dashboard
    )


def test_checking_out_a_contract_product_without_a_code_goes_back_to_the_cart(
    client, make_offer, learner
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    before = shop_state()

    response = client.post("/checkout/")

    assert response["Location"] == "/cart/"
    assert refusals(response) == [
        (
            "code-required",
            "This course is offered through your organization: enter the enrollment code you were "
            "given to enroll.",
        )
    ]
    assert shop_state() == before


def _enroll_with_code(client, offer, code):
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": code})
    return client.post("/checkout/")


@pytest.mark.parametrize(
    ("case", "code", "status", "message"),
    [
        (
            "unknown",
            "not-a-code",
            400,
            "“not-a-code” is not a valid enrollment code: check it against the one you were given.",
        ),
        ("empty", "   ", 400, "Enter the enrollment code you were given."),
        (
            "other product",
            None,
            400,
            "This enrollment code is for another course: open the link that came with it, or check "
            "that you typed the code for this course.",
        ),
        (
            "used",
            None,
            409,
            "This enrollment code has already been used: each code admits one learner. Ask the "
            "organization that gave it to you for another.",
        ),
        (
            "deactivated",
            None,
            409,
            "This enrollment code has been deactivated: ask the organization that gave it to you "
            "for a new one.",
        ),
        (
            "inactive contract",
            None,
            409,
            "Enrollment under the contract “Acme” is closed (it is inactive or outside its dates): "
            "contact the organization that gave you the code.",
        ),
        (
            "full",
            None,
            409,
            "The contract “Acme” has no seats left (its 2 learners are attached): your code stays "
            "unused. Contact your organization.",
        ),
        ("enrolled", None, 409, None),
    ],
)
def test_a_refused_code_says_exactly_why_and_changes_nothing(
    client,
    make_offer,
    learner,
    catalog,
    django_capture_on_commit_callbacks,
    case,
    code,
    status,
    message,
):
    offer = make_offer("Acme", "non-sso", max_learners=2)
    other = make_offer("Acme", "non-sso", max_learners=2, course=catalog.micro)
    expected_code = {
        "unknown": "invalid-code",
        "empty": "invalid-code",
        "other product": "code-not-for-product",
        "used": "code-used",
        "deactivated": "code-deactivated",
        "inactive contract": "contract-inactive",
        "full": "contract-full",
        "enrolled": "already-enrolled",
    }[case]
    if case == "other product":
        code = other.codes[0]
    elif case == "used":
        someone = client.__class__()
        someone.force_login(UserFactory(username="bo"))
        _enroll_with_code(someone, offer, offer.codes[0])
        code = offer.codes[0]
    elif case == "deactivated":
        with django_capture_on_commit_callbacks(execute=True):
            codes_deactivate([offer.codes[0]])
        code = offer.codes[0]
    elif case == "inactive contract":
        contract_modify(offer.contract.pk, active=False)
        code = offer.codes[0]
    elif case == "full":
        for name in ("cy", "di"):
            ContractMembership.objects.create(
                user=UserFactory(username=name), contract=offer.contract, source="manual"
            )
        code = offer.codes[0]
    elif case == "enrolled":
        client.force_login(learner)
        _enroll_with_code(client, offer, offer.codes[0])
        code = offer.codes[1]
        message = (
            f"You are already enrolled in {offer.run.title}: your "
            "code stays unused. Find the course on My courses."
        )
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    before = shop_state()

    response = client.post("/cart/code/", {"code": code})

    assert response.status_code == status
    page = response.content.decode()
    error = f'<p id="code-error" class="field-error" role="alert" data-code="{expected_code}">'
    assert error in page
    assert f"{message}</p>" in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert 'aria-invalid="true"' in page
    assert "Check out" not in page
    assert shop_state() == before


def test_a_learner_attached_to_a_free_sso_contract_needs_no_code(
    client, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme SSO", "sso")  # free and uncapped: no codes at all
    assert offer.codes == []
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="sso")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    assert (
        '<button type="submit" class="primary">Check out</button>'
        in client.get("/cart/").content.decode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/checkout/")

    order = Order.objects.get()
    assert response["Location"] == f"/dashboard/?order={order.pk}"
    assert order.state == "fulfilled"
    assert DiscountRedemption.objects.count() == 0
    assert list(CourseRunEnrollment.objects.values_list("user", "run")) == [
        (learner.pk, offer.run.pk)
    ]
    assert list(ContractMembership.objects.values_list("user", "source")) == [(learner.pk, "sso")]


def test_a_learner_not_attached_to_a_free_sso_contract_cannot_get_in(client, make_offer, learner):
    offer = make_offer("Acme SSO", "sso")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    before = shop_state()

    response = client.post("/checkout/")

    assert refusals(response)[0][0] == "code-required"
    assert shop_state() == before


def test_an_attached_learner_takes_no_new_seat_on_a_full_contract(
    client, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso", max_learners=1)
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="manual")
    client.force_login(learner)

    with django_capture_on_commit_callbacks(execute=True):
        response = _enroll_with_code(client, offer, offer.codes[0])

    assert response["Location"].startswith("/dashboard/?order=")
    assert list(ContractMembership.objects.values_list("user", "source")) == [
        (learner.pk, "manual")
    ]
    assert CourseRunEnrollment.objects.filter(user=learner, run=offer.run).count() == 1


def test_the_cart_says_when_it_is_empty(client, learner):
    client.force_login(learner)
    page = client.get("/cart/").content.decode()
    assert "<p>Your cart is empty.</p>" in page
    response = client.post("/checkout/")
    assert refusals(response) == [
        (
            "basket-empty",
            "Your basket is empty: open the product link you were given to add the course.",
        )
    ]


def test_removing_the_code_hides_the_checkout_button_again(client, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})

    client.post("/cart/code/remove/")

    assert BasketDiscount.objects.count() == 0
    assert "Check out" not in client.get("/cart/").content.decode()


def test_the_cart_pages_need_a_login(client):
    for method, url in (
        ("get", "/cart/"),
        ("post", "/cart/code/"),
        ("post", "/checkout/"),
        ("get", "/dashboard/"),
    ):
        response = getattr(client, method)(url)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={url}")


def test_a_code_deleted_by_the_code_adjustment_leaves_the_basket_without_a_code(
    client, make_offer, learner, django_capture_on_commit_callbacks
):
    offer = make_offer("Acme", "non-sso")  # uncapped: one unlimited code
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})
    assert BasketDiscount.objects.count() == 1

    # Free SSO and uncapped: codes are no longer needed, the unredeemed ones are deleted.
    with django_capture_on_commit_callbacks(execute=True):
        contract_modify(offer.contract.pk, integration_type="sso")

    from ecommerce.models import Discount

    assert Discount.objects.filter(discount_code=offer.codes[0]).exists() is False
    page = client.get("/cart/").content.decode()
    assert "applied-code" not in page
    assert 'data-code="code-required"' in page
    response = client.post("/checkout/")
    assert refusals(response)[0][0] == "code-required"
