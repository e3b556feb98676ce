"""Joining a contract with a code (SPEC §5, widened): ``/join/``, ``/join/<code>/`` and
``POST /api/v0/contracts/join/`` attach the learner through ``contract_join`` (a seat under the
contract's lock, the code redeemed with no order: one budget per code), then the attached learner
enrolls in any of the contract's runs without another code, or buys a priced one at its price."""

import json

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache

from b2b.models import ContractMembership, ContractPage
from b2b.services.audit import contract_history
from b2b.services.check import contracts_check
from courses.models import CourseRunEnrollment
from ecommerce.models import Discount, DiscountRedemption, Order
from tests.factories import ContractRunFactory, UserFactory, run_product

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.extra_tags, m.message) for m in get_messages(response.wsgi_request)]


def field_error(response) -> tuple[str, str]:
    page = response.content.decode()
    start = page.index('<p id="code-error"')
    tag = page[start : page.index("</p>", start)]
    code = tag.split('data-code="', 1)[1].split('"', 1)[0]
    return code, tag.split(">", 1)[1]


@pytest.fixture
def two_courses(make_offer, catalog):
    """A capped, free, non-SSO contract with two runs (data, micro), each with its 3 codes."""
    offer = make_offer("Acme learning", "non-sso", max_learners=3)
    second = ContractRunFactory(b2b_contract=offer.contract, course=catalog.micro)
    return offer, second


def test_joining_with_a_code_attaches_spends_the_code_and_lands_on_the_contract(
    client, learner, two_courses
):
    offer, second = two_courses
    client.force_login(learner)

    assert client.get("/join/").status_code == 200
    response = client.post("/join/", {"code": f"  {offer.codes[0].upper()} "})

    contract = offer.contract
    assert (response.status_code, response["Location"]) == (
        302,
        f"/dashboard/#contract-{contract.pk}",
    )
    assert messages_of(response) == [
        (
            "joined",
            "Welcome: you joined University X’s “Acme learning”. Enroll in its courses below, no "
            "other code needed.",
        )
    ]
    assert list(ContractMembership.objects.values_list("user", "contract", "source")) == [
        (learner.pk, contract.pk, "code")
    ]
    assert list(
        DiscountRedemption.objects.values_list(
            "redeemed_discount__discount_code", "redeemed_by", "redeemed_order", "is_one_time"
        )
    ) == [(offer.codes[0], learner.pk, None, True)]
    assert Order.objects.count() == CourseRunEnrollment.objects.count() == 0
    [entry] = [e for e in contract_history(contract.pk) if e.action == "membership.add"]
    assert (entry.via, entry.actor, entry.changes["source"]) == (
        "join",
        "ada@example.edu",
        {"before": None, "after": "code"},
    )

    # My courses: the contract's two runs, one click each, no code.
    page = client.get("/dashboard/")
    assert [(c.run.pk, c.status) for c in page.context["courses"].contracts[0].cards] == [
        (offer.run.pk, "can-enroll"),
        (second.pk, "can-enroll"),
    ]
    for run in (offer.run, second):
        client.post(f"/dashboard/enroll/{run.pk}/")
    assert sorted(
        CourseRunEnrollment.objects.filter(user=learner, active=True).values_list("run", flat=True)
    ) == sorted([offer.run.pk, second.pk])
    assert DiscountRedemption.objects.count() == 1  # no second code spent
    # The join's redemption has no order and no enrollment of its own: b2b_check finds nothing.
    assert [f.kind for f in contracts_check(contract_id=contract.pk).findings] == []


def test_a_code_spent_on_joining_cannot_be_spent_again_at_checkout(client, learner, two_courses):
    offer, _ = two_courses
    client.force_login(learner)
    client.post("/join/", {"code": offer.codes[0]})

    grace = UserFactory(username="grace", email="grace@example.edu")
    client.force_login(grace)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    response = client.post("/cart/code/", {"code": offer.codes[0]})

    assert response.status_code == 409
    assert field_error(response)[0] == "code-used"
    joined_again = client.post("/join/", {"code": offer.codes[0]})
    assert joined_again.status_code == 409
    assert field_error(joined_again) == (
        "code-used",
        "This enrollment code has already been used: each code admits one learner. Ask the "
        "organization that gave it to you for another.",
    )
    assert ContractMembership.objects.filter(user=grace).count() == 0


def test_a_link_fills_the_form_and_spends_nothing_until_the_learner_joins(
    client, learner, two_courses
):
    offer, _ = two_courses
    url = f"/join/{offer.codes[1]}/"

    assert client.get(url)["Location"] == f"/login/?next={url}"
    client.force_login(learner)
    page = client.get(url).content.decode()

    assert f'name="code" value="{offer.codes[1]}"' in page
    assert DiscountRedemption.objects.count() == ContractMembership.objects.count() == 0
    response = client.post(url, {"code": offer.codes[1]})
    assert response["Location"] == f"/dashboard/#contract-{offer.contract.pk}"
    assert ContractMembership.objects.filter(user=learner).count() == 1


def test_an_attached_learner_is_told_so_and_keeps_the_code_unused(client, learner, two_courses):
    offer, _ = two_courses
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="manual")
    client.force_login(learner)

    response = client.post("/join/", {"code": offer.codes[0]})

    assert messages_of(response) == [
        (
            "already-attached",
            "You are already a member of University X’s “Acme learning”: your code stays unused. "
            "Enroll below.",
        )
    ]
    assert DiscountRedemption.objects.count() == 0


def test_joining_is_refused_with_the_carts_codes_and_writes_nothing(
    client, learner, two_courses, make_offer
):
    offer, _ = two_courses
    client.force_login(learner)
    Discount.objects.filter(discount_code=offer.codes[2]).update(is_active=False)

    cases = [
        ("not-a-code", 400, "invalid-code"),
        ("", 400, "invalid-code"),
        (offer.codes[2], 409, "code-deactivated"),
    ]
    for code, status, refusal in cases:
        response = client.post("/join/", {"code": code})
        assert (response.status_code, field_error(response)[0]) == (status, refusal), code

    ContractPage.objects.filter(pk=offer.contract.pk).update(active=False)
    response = client.post("/join/", {"code": offer.codes[0]})
    assert (response.status_code, field_error(response)) == (
        409,
        (
            "contract-inactive",
            "Enrollment under the contract “Acme learning” is closed (it is inactive or outside "
            "its dates): contact the organization that gave you the code.",
        ),
    )
    ContractPage.objects.filter(pk=offer.contract.pk).update(active=True)
    for index in range(3):
        ContractMembership.objects.create(
            user=UserFactory(username=f"member{index}"), contract=offer.contract, source="sso"
        )
    response = client.post("/join/", {"code": offer.codes[0]})
    assert (response.status_code, field_error(response)[0]) == (409, "contract-full")
    assert DiscountRedemption.objects.count() == 0
    assert ContractMembership.objects.filter(user=learner).count() == 0


def test_the_api_joins_with_the_same_rules(client, learner, two_courses):
    offer, _ = two_courses
    client.force_login(learner)
    client.get("/api/v0/me/")
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}

    def join(code):
        return client.post(
            "/api/v0/contracts/join/",
            json.dumps({"code": code}),
            content_type="application/json",
            **headers,
        )

    first = join(offer.codes[0])
    again = join(offer.codes[1])
    unknown = join("nope")

    expected = {
        "contract_id": offer.contract.pk,
        "contract": "Acme learning",
        "organization": "University X",
        "next": f"/dashboard/#contract-{offer.contract.pk}",
    }
    assert (first.status_code, first.json()) == (201, {**expected, "joined": True})
    assert (again.status_code, again.json()) == (200, {**expected, "joined": False})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid-code")
    assert DiscountRedemption.objects.count() == 1


def test_joining_counts_against_the_code_throttle(client, learner, two_courses, settings):
    offer, _ = two_courses
    settings.CODE_ATTEMPTS_PER_LEARNER = "2/minute"
    cache.clear()
    client.force_login(learner)

    client.post("/cart/code/", {"code": "wrong-1"})
    client.post("/join/", {"code": "wrong-2"})
    response = client.post("/join/", {"code": offer.codes[0]})

    assert response.status_code == 429
    assert field_error(response)[0] == "too-many-attempts"
    assert int(response["Retry-After"]) >= 1
    assert ContractMembership.objects.count() == 0


def test_an_attached_learner_buys_a_priced_run_at_the_contract_price_with_no_code(
    client, learner, make_offer, payments
):
    offer = make_offer("Acme priced", "non-sso", max_learners=5, price="250.00")
    ContractMembership.objects.create(user=learner, contract=offer.contract, source="manual")
    client.force_login(learner)

    card = client.get("/dashboard/").context["courses"].contracts[0].cards[0]
    assert (card.status, card.price, card.product_id) == (
        "buy",
        offer.contract.price,
        offer.product.pk,
    )
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    cart = client.get("/cart/").content.decode()
    assert 'data-code="no-code-needed"' in cart
    assert "Check out and pay $250.00" in cart
    response = client.post("/checkout/")

    assert response.status_code == 200  # the page that posts to the payment gateway
    assert list(Order.objects.values_list("purchaser", "state", "total_price_paid")) == [
        (learner.pk, "pending", offer.contract.price)
    ]
    assert DiscountRedemption.objects.count() == 0
    assert run_product(offer.run).price == offer.contract.price
    # One click is for free contracts: a priced run is bought.
    refused = client.post(f"/dashboard/enroll/{offer.run.pk}/")
    assert messages_of(refused)[-1][0] == "run-not-enrollable"


def test_a_code_spent_on_joining_shows_as_redeemed_to_join(learner, two_courses, run_command):
    from b2b.services.redemption import contract_join

    offer, _ = two_courses
    result = contract_join(learner, code=offer.codes[0])

    shown = json.loads(run_command("b2b_codes", "show", offer.codes[0], "--format", "json").stdout)
    assert shown["status"] == "redeemed"
    assert [(r["user"], r["order_id"], r["order_state"]) for r in shown["redemptions"]] == [
        ("ada@example.edu", None, None)
    ]
    table = run_command("b2b_codes", "show", offer.codes[0]).stdout
    assert "by ada@example.edu" in table and "to join the contract" in table
    # Attached, not yet enrolled: b2b_check finds the contract whole.
    assert result.joined is True
    assert contracts_check(contract_id=offer.contract.pk).findings == []


@pytest.mark.parametrize(
    "base, expected",
    [
        ("https://lms.example.edu", "https://lms.example.edu/courses/{key}/course/"),
        ("", None),
    ],
)
def test_go_to_course_opens_the_run_in_the_lms_with_its_key_quoted(
    client, learner, two_courses, settings, base, expected
):
    from openedx.api import courseware_url

    offer, _ = two_courses
    settings.OPENEDX_LMS_URL = base
    client.force_login(learner)
    client.post("/join/", {"code": offer.codes[0]})
    client.post(f"/dashboard/enroll/{offer.run.pk}/")

    key = offer.run.courseware_id  # course-v1:UAI_UX+14.310x+<year>_C<id>
    quoted = key.replace("+", "%2B")
    assert courseware_url(key) == (expected.format(key=quoted) if expected else None)
    page = client.get("/dashboard/").content.decode()
    if expected:
        assert (
            f'<a class="button primary" href="{expected.format(key=quoted)}">Go to course</a>'
            in page
        )
    else:
        assert "Go to course" not in page
        assert "The course opens here once it is available online." in page
    enrollments = client.get("/api/v0/enrollments/").json()
    assert [e["courseware_url"] for e in enrollments] == [courseware_url(key)]


def test_a_code_in_the_cart_then_spent_on_joining_leaves_the_cart(client, learner, two_courses):
    offer, _ = two_courses
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})

    client.post(f"/join/{offer.codes[0]}/", {"code": offer.codes[0]})

    cart = client.get("/cart/").content.decode()
    assert 'data-testid="applied-code"' not in cart
    assert 'data-code="no-code-needed"' in cart
    response = client.post("/checkout/")
    order = Order.objects.get()
    assert response["Location"] == f"/dashboard/?order={order.pk}"
    assert (order.state, DiscountRedemption.objects.count()) == ("fulfilled", 1)
    assert CourseRunEnrollment.objects.filter(user=learner, run=offer.run, active=True).exists()


def test_a_new_learner_opening_a_join_link_signs_up_and_comes_back_to_it(
    client, two_courses, settings, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail

    offer, _ = two_courses
    settings.SITE_BASE_URL = "http://testserver"
    url = f"/join/{offer.codes[0]}/"

    login = client.get(url)["Location"]
    assert login == f"/login/?next={url}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/signup/?next={url}",
            {
                "name": "Alan Turing",
                "email": "alan@example.edu",
                "password1": "enigma-machine",
                "next": url,
            },
        )
    [link] = re.findall(r"http://testserver(/confirm-email/\S+)", mail.outbox[0].body)
    confirmed = client.post(link)

    assert (confirmed.status_code, confirmed["Location"]) == (302, url)
    page = client.get(url).content.decode()
    assert f'name="code" value="{offer.codes[0]}"' in page
