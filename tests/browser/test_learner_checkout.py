"""A learner gets in with an enrollment code, in a real browser (SPEC §5): the Product URL from
a real codes CSV, the login, a wrong code, the right one, checkout, the dashboard."""

import csv
import re

import pytest
from playwright.sync_api import expect

from b2b.models import ContractMembership
from courses.models import CourseRunEnrollment
from tests.b2b.helpers import new_contract
from tests.factories import ContractRunFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_learner_enrolls_with_a_code_from_the_csv(
    page, live_site, settings, wagtail_site, catalog, run_command, tmp_path
):
    settings.SITE_BASE_URL = live_site
    contract = new_contract("Acme Contract", max_learners=3, org="Acme University", key="ACME")
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    csv_path = tmp_path / f"codes-{contract.pk}.csv"
    run_command("b2b_list", "contracts", "--codes", str(contract.pk), "--codes-out", str(csv_path))
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == 3
    code, product_url = rows[0]["Code"], rows[0]["Product URL"]
    assert product_url.startswith(f"{live_site}/cart/add/?product_id=")
    learner = UserFactory(username="grace", name="Grace Learner", password="a-long-passphrase")

    # The Product URL asks for a login, then comes back to the cart.
    page.goto(product_url)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_site}/cart/")
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(page.get_by_role("heading", name="Data Analysis for Social Scientists")).to_be_visible()
    expect(page.get_by_test_id("total")).to_have_text("$0.00")

    # A zero-value contract basket offers no checkout until a code is applied.
    expect(page.get_by_role("button", name=re.compile("Check out"))).to_have_count(0)

    page.get_by_role("textbox", name="Enrollment code").fill("not-my-code")
    page.get_by_role("button", name="Apply code").click()
    error = page.locator("#code-error")
    expect(error).to_have_text(
        "“not-my-code” is not a valid enrollment code: check it against the one you were given."
    )
    expect(error).to_have_attribute("data-code", "invalid-code")
    expect(page.get_by_role("textbox", name="Enrollment code")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_role("button", name=re.compile("Check out"))).to_have_count(0)

    page.get_by_role("textbox", name="Enrollment code").fill(f"  {code.upper()} ")
    page.get_by_role("button", name="Apply code").click()
    expect(page.get_by_text(f"Code {code} applied.")).to_be_visible()
    expect(page.get_by_test_id("applied-code")).to_have_text(code)

    page.get_by_role("button", name="Check out").click()

    expect(page).to_have_url(re.compile(r"/dashboard/\?order=\d+$"))
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    course = page.locator(f"#contract-{contract.pk} li.course")
    expect(course).to_have_count(1)
    expect(course.get_by_role("heading")).to_have_text("Data Analysis for Social Scientists")
    expect(course.get_by_text("Enrolled", exact=True)).to_be_visible()
    expect(course).to_contain_text("Offered by Acme University")
    assert "course-v1:" not in page.get_by_role("main").inner_text()
    assert list(CourseRunEnrollment.objects.values_list("user", "run__b2b_contract")) == [
        (learner.pk, contract.pk)
    ]
    assert list(ContractMembership.objects.values_list("user", "source")) == [(learner.pk, "code")]
