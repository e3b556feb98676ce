"""A new learner's way in, in a real browser at a desktop and a phone width (SPEC §5, widened):
sign up, confirm by the mail the site wrote (file backend, as the demo's sent-mail/), join a
contract with a code from its real codes CSV, enroll in two of its courses without another code,
and find both on My courses with "Go to course" into the LMS. A learner attached by staff
enrolls with one click; a learner attached to a priced contract buys a course at its price with
no code (the payment gateway answered by a stand-in that signs as CyberSource does). Every page
fits the screen and no request fails."""

import csv
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from playwright.sync_api import Page, expect

from b2b.models import ContractMembership
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.models import DiscountRedemption, Order
from tests.b2b.helpers import new_contract
from tests.browser.test_accounts import fits, link_in, mailbox
from tests.ecommerce.helpers import gateway_response
from tests.factories import ContractRunFactory, UserFactory, run_product

pytestmark = pytest.mark.django_db(transaction=True)

LMS = "https://lms.example.edu"
#: Screenshots for a person to look at: ``SCREENSHOTS=dir pytest ...``.
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def shot(tab: Page, name: str) -> None:
    if SCREENSHOTS:
        width = tab.viewport_size["width"] if tab.viewport_size else 0
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=f"{SCREENSHOTS}/{name}-{width}.png", full_page=True)


@pytest.fixture
def lms(settings):
    settings.OPENEDX_LMS_URL = LMS
    return LMS


def course_card(tab: Page, title: str):
    return tab.locator("li.course").filter(has=tab.get_by_role("heading", name=title))


def log_in(tab: Page, live_site: str, login: str, password: str) -> None:
    tab.goto(f"{live_site}/login/")
    tab.get_by_label("Email or username").fill(login)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(f"{live_site}/dashboard/")


def test_a_new_learner_signs_up_joins_with_a_code_and_enrolls_in_two_courses(
    tab, live_site, sent_mail, lms, wagtail_site, catalog, run_command, tmp_path
):
    contract = new_contract(
        "Economics 2026",
        max_learners=200,
        org="UniversityX",
        key="UniversityX",
        welcome_text="Welcome to UniversityX's economics programme.\n\nEnroll in any course below.",
    )
    data = ContractRunFactory(b2b_contract=contract, course=catalog.data)
    micro = ContractRunFactory(b2b_contract=contract, course=catalog.micro)
    csv_path = tmp_path / "codes.csv"
    run_command("b2b_list", "contracts", "--codes", str(contract.pk), "--codes-out", str(csv_path))
    code = next(csv.DictReader(csv_path.open(encoding="utf-8")))["Code"]

    tab.goto(f"{live_site}/signup/")
    tab.get_by_label("Full name").fill("Grace Hopper")
    tab.get_by_label("Email").fill("grace@example.edu")
    tab.get_by_label("Password").fill("c0bol-and-ships")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()
    [message] = mailbox(sent_mail)
    assert message["Subject"] == "Confirm your email address to finish signing up"
    tab.goto(link_in(message, live_site))
    tab.get_by_role("button", name="Yes, confirm it").click()
    expect(tab).to_have_url(f"{live_site}/dashboard/")
    expect(tab.get_by_text("You have no courses yet.")).to_be_visible()
    fits(tab)

    tab.get_by_role("main").get_by_role("link", name="Join with a code").click()
    expect(tab.get_by_role("heading", name="Join your organization's courses")).to_be_visible()
    tab.get_by_label("Enrollment code").fill("not-a-code")
    tab.get_by_role("button", name="Join").click()
    expect(tab.locator("#code-error")).to_have_attribute("data-code", "invalid-code")
    fits(tab)
    shot(tab, "join-refused")
    assert tab.failed == [f"400 {live_site}/join/"]  # the refusal's status, as the cart's
    tab.failed.clear()
    tab.get_by_label("Enrollment code").fill(f" {code.upper()} ")
    tab.get_by_role("button", name="Join").click()

    expect(tab).to_have_url(f"{live_site}/dashboard/#contract-{contract.pk}")
    expect(
        tab.get_by_text("Welcome: you joined UniversityX’s “Economics 2026”.", exact=False)
    ).to_be_visible()
    section = tab.locator(f"#contract-{contract.pk}")
    expect(section.get_by_role("heading", name="UniversityX")).to_be_visible()
    expect(section.get_by_text("Welcome to UniversityX's economics programme.")).to_be_visible()
    expect(section.locator("li.course")).to_have_count(2)
    fits(tab)
    shot(tab, "joined")

    for run in (data, micro):
        card = course_card(tab, run.title)
        card.get_by_role("button", name="Enroll").click()
        expect(tab.get_by_text(f"You are enrolled in {run.title}.")).to_be_visible()

    for run in (data, micro):
        card = course_card(tab, run.title)
        expect(card.get_by_text("Enrolled", exact=True)).to_be_visible()
        expect(card).to_contain_text("Offered by UniversityX")
        link = card.get_by_role("link", name="Go to course")
        key = run.courseware_id.replace("+", "%2B")
        expect(link).to_have_attribute("href", f"{LMS}/courses/{key}/course/")
    assert "course-v1:" not in tab.get_by_role("main").inner_text()
    fits(tab)
    shot(tab, "enrolled")

    grace = ContractMembership.objects.get().user
    assert (grace.email, grace.emailaddress_set.get().verified) == ("grace@example.edu", True)
    assert sorted(
        CourseRunEnrollment.objects.filter(user=grace, active=True).values_list("run", flat=True)
    ) == sorted([data.pk, micro.pk])
    assert list(DiscountRedemption.objects.values_list("redeemed_discount__discount_code")) == [
        (code,)
    ]


def test_a_learner_attached_by_staff_enrolls_with_one_click(
    tab, live_site, lms, wagtail_site, catalog
):
    contract = new_contract("Acme staff", org="Acme", key="ACME")
    run = ContractRunFactory(b2b_contract=contract, course=catalog.data)
    ada = UserFactory(username="ada", email="ada@example.edu", password="a-long-passphrase")
    ContractMembership.objects.create(user=ada, contract=contract, source="manual")

    log_in(tab, live_site, "ada@example.edu", "a-long-passphrase")
    card = course_card(tab, run.title)
    expect(card.get_by_text("Free for you")).to_be_visible()
    fits(tab)
    card.get_by_role("button", name="Enroll").click()

    expect(tab).to_have_url(f"{live_site}/dashboard/#contract-{contract.pk}")
    card = course_card(tab, run.title)
    expect(card.get_by_role("link", name="Go to course")).to_be_visible()
    fits(tab)
    assert CourseRunEnrollment.objects.filter(user=ada, run=run, active=True).count() == 1
    assert DiscountRedemption.objects.count() == Order.objects.count() == 0


def test_a_learner_attached_to_a_priced_contract_buys_at_its_price_with_no_code(
    tab, live_site, lms, payments, wagtail_site, catalog
):
    contract = new_contract(
        "Acme priced", org="Acme", key="ACME", max_learners=10, enrollment_fixed_price="120.00"
    )
    run = ContractRunFactory(b2b_contract=contract, course=catalog.data)
    product = run_product(run)
    ada = UserFactory(username="ada", email="ada@example.edu", password="a-long-passphrase")
    ContractMembership.objects.create(user=ada, contract=contract, source="manual")
    gateway = payments.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL

    def accept(route):
        """The gateway: takes the signed form, accepts, posts the signed receipt back."""
        form = dict(parse_qsl(route.request.post_data or ""))
        fields = gateway_response(form, "ACCEPT")
        inputs = "".join(
            f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items()
        )
        route.fulfill(
            content_type="text/html",
            body=f'<form id="f" method="post" action="{live_site}/checkout/result/">{inputs}</form>'
            '<script>document.getElementById("f").submit()</script>',
        )

    tab.route(gateway, accept)
    log_in(tab, live_site, "ada", "a-long-passphrase")
    card = course_card(tab, run.title)
    card.get_by_role("link", name="Enroll for $120.00").click()

    expect(tab).to_have_url(f"{live_site}/cart/")
    expect(
        tab.get_by_text("You are a member of Acme (Acme priced): no code needed.")
    ).to_be_visible()
    expect(tab.get_by_role("textbox", name="Enrollment code")).to_have_count(0)
    fits(tab)
    shot(tab, "priced-cart")
    tab.get_by_role("button", name="Check out and pay $120.00").click()

    expect(tab).to_have_url(re.compile(r"/dashboard/\?order=\d+$"))
    expect(tab.get_by_text(re.compile(r"Order \d+ is complete"))).to_be_visible()
    expect(course_card(tab, run.title).get_by_role("link", name="Go to course")).to_be_visible()
    fits(tab)
    assert list(Order.objects.values_list("purchaser", "state", "total_price_paid")) == [
        (ada.pk, "fulfilled", contract.price)
    ]
    assert list(Order.objects.get().lines.values_list("product", flat=True)) == [product.pk]
    assert DiscountRedemption.objects.count() == 0
    assert CourseRun.objects.get(pk=run.pk).enrollments.filter(user=ada).count() == 1


def test_my_courses_shows_every_status_and_fits_the_screen(
    tab, live_site, lms, wagtail_site, catalog
):
    from courses.models import CourseRunEnrollment as Enrollment
    from ecommerce.models import Line

    free = new_contract(
        "Free courses for the whole faculty of economics and social sciences",
        org="Universidad Nacional Autónoma de Investigación Científica y Tecnológica",
        key="UNAICT",
        welcome_text="A long welcome: " + "learn, " * 40 + "and enjoy.",
    )
    priced = new_contract("Priced", org="Acme", key="ACME", enrollment_fixed_price="75.50")
    closed = new_contract("Closed", org="Beta", key="BETA", active=False)
    enrolled_run = ContractRunFactory(b2b_contract=free, course=catalog.data)
    open_run = ContractRunFactory(b2b_contract=free, course=catalog.micro)
    buy_run = ContractRunFactory(b2b_contract=priced, course=catalog.data)
    pending_run = ContractRunFactory(b2b_contract=priced, course=catalog.micro)
    closed_run = ContractRunFactory(b2b_contract=closed, course=catalog.data)
    ada = UserFactory(username="ada", email="ada@example.edu", password="a-long-passphrase")
    for contract in (free, priced, closed):
        ContractMembership.objects.create(user=ada, contract=contract, source="manual")
    Enrollment.objects.create(user=ada, run=enrolled_run, active=True)
    order = Order.objects.create(purchaser=ada, state="pending", total_price_paid="75.50")
    Line.objects.create(
        order=order,
        product=run_product(pending_run),
        quantity=1,
        unit_price="75.50",
        discounted_price="75.50",
    )

    log_in(tab, live_site, "ada", "a-long-passphrase")

    statuses = {
        run.pk: tab.locator(f'li.course[data-run="{run.pk}"]').get_attribute("data-status")
        for run in (enrolled_run, open_run, buy_run, pending_run, closed_run)
    }
    assert statuses == {
        enrolled_run.pk: "enrolled",
        open_run.pk: "can-enroll",
        buy_run.pk: "buy",
        pending_run.pk: "pending",
        closed_run.pk: "closed",
    }
    expect(tab.get_by_text("Payment pending")).to_be_visible()
    expect(tab.get_by_text("Enrollment is closed: contact your organization.")).to_be_visible()
    expect(tab.get_by_role("link", name="Enroll for $75.50")).to_be_visible()
    assert "course-v1:" not in tab.get_by_role("main").inner_text()
    fits(tab)
    shot(tab, "statuses")
