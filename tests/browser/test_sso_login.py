"""A learner logs in through their organization's identity provider in a real browser (SPEC §6):
the provider's own form (oidc-provider-mock over HTTP), the dashboard with the contract, Enroll."""

import re

import pytest
from playwright.sync_api import expect

from b2b.models import ContractMembership
from courses.models import CourseRunEnrollment
from tests.oidc import ACME_ID, new_sub, oidc_provider, set_user, sso, world  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_learner_logs_in_through_sso_and_enrolls(page, live_site, sso, world):  # noqa: F811
    sub = new_sub()
    set_user(
        sso,
        sub,
        email="ada@acme.example",
        email_verified=True,
        name="Ada Lovelace",
        organization={"acme": {"id": ACME_ID}},
    )

    page.goto(f"{live_site}/login/")
    page.get_by_role("button", name="Log in with your organization").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(sso)}/oauth2/authorize\?"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{live_site}/dashboard/")
    section = page.locator(f"#contract-{world.acme_free.pk}")
    expect(section.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    expect(section).to_contain_text("Acme SSO")
    course = section.locator("li.course").filter(has_text="Data Analysis for Social Scientists")
    expect(course).to_have_attribute("data-status", "can-enroll")
    course.get_by_role("button", name="Enroll").click()

    expect(page).to_have_url(f"{live_site}/dashboard/#contract-{world.acme_free.pk}")
    expect(
        page.get_by_text("You are enrolled in Data Analysis for Social Scientists.")
    ).to_be_visible()
    enrolled = page.locator('li.course[data-status="enrolled"]')
    expect(enrolled).to_have_count(1)
    expect(enrolled.get_by_role("heading")).to_have_text("Data Analysis for Social Scientists")
    membership = ContractMembership.objects.get(contract=world.acme_free)
    assert (membership.user.email, membership.source) == ("ada@acme.example", "sso")
    assert (
        CourseRunEnrollment.objects.filter(
            user=membership.user, run__b2b_contract=world.acme_free, active=True
        ).count()
        == 1
    )
