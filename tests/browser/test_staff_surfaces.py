"""Staff at work, in a browser: Wagtail for organizations and contracts, the Django Admin for
provisioning a learner (SPEC §7)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from b2b.models import ContractMembership, ContractPage, OrganizationIndexPage, OrganizationPage
from main.services import site_configure
from tests.b2b.helpers import new_contract
from tests.b2b.staff import PASSWORD, staff_member
from tests.factories import UserFactory, course_with_source

pytestmark = pytest.mark.django_db(transaction=True)

COURSE = "course-v1:MITxT+14.100x"


def publish(page) -> None:
    """The editor's footer: open the "More actions" menu, press Publish."""
    page.locator("footer [data-w-dropdown-target=toggle]").click()
    with page.expect_navigation():
        page.locator("footer button[name=action-publish]").click()


def wagtail_login(page, base: str, username: str) -> None:
    page.goto(f"{base}/cms/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/cms/")


@pytest.fixture
def site(live_site):
    site_configure()
    course_with_source(COURSE, "Microeconomics")
    return live_site


def test_staff_create_an_organization_and_a_capped_contract_in_wagtail(site, page):
    member = staff_member()
    wagtail_login(page, site, member.username)
    index = OrganizationIndexPage.objects.get()

    # an organization, from the Organizations page's "add child page"
    page.goto(f"{site}/cms/pages/{index.pk}/")
    page.goto(f"{site}/cms/pages/add/b2b/organizationpage/{index.pk}/")
    page.fill("input[name=name]", "Acme University")
    page.fill("input[name=org_key]", "ACME")
    publish(page)
    assert "Page 'Acme University' created and published." in page.inner_text(".messages")
    org = OrganizationPage.objects.get()

    # a contract with an invalid cap: the form says why
    page.goto(f"{site}/cms/pages/add/b2b/contractpage/{org.pk}/")
    page.fill("input[name=name]", "Acme 2026")
    page.select_option("select[name=integration_type]", "non-sso")
    page.fill("input[name=max_learners]", "0")
    publish(page)
    error = page.locator("[data-contentpath=max_learners] .error-message").inner_text()
    assert error.strip() == (
        "The learner cap must be a whole number of at least 1 (got 0); leave it empty "
        "(--no-learner-cap) for an uncapped contract."
    )
    assert ContractPage.objects.count() == 0

    # fixed and published
    page.fill("input[name=max_learners]", "3")
    publish(page)
    assert "Page 'Acme 2026' created and published." in page.inner_text(".messages")
    contract = ContractPage.objects.get()
    assert (contract.organization_id, contract.max_learners, contract.live) == (org.pk, 3, True)

    # courseware added from the command line: its codes appear in the editor
    call_command(
        "b2b_courseware",
        "add",
        str(contract.pk),
        COURSE,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    page.goto(f"{site}/cms/pages/{contract.pk}/edit/")
    assert page.inner_text("[data-b2b=codes-usable]") == "3"
    assert page.inner_text("[data-b2b=learners]") == "0 of 3 learners"
    assert "course-v1:UAI_ACME+14.100x+" in page.inner_text("[data-b2b=courseware]")


def test_staff_provision_a_learner_in_the_django_admin_and_cannot_delete_the_contract(site, page):
    contract = new_contract("Acme 2026", max_learners=3, org="Acme University", key="ACME")
    learner = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    member = staff_member()

    page.goto(f"{site}/admin/login/")
    page.fill("input[name=username]", member.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{site}/admin/main/user/{learner.pk}/change/")

    # the "add a contract membership" row: pick the contract with the autocomplete
    page.locator(".select2-selection").last.click()
    page.locator(".select2-search__field").fill("Acme")
    page.locator(".select2-results__option", has_text="Acme 2026").click()
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert "Attached ada@example.edu to 'Acme 2026' (source: manual)." in page.inner_text(
        ".messagelist"
    )
    membership = ContractMembership.objects.get()
    assert (membership.user_id, membership.contract_id, membership.source) == (
        learner.pk,
        contract.pk,
        "manual",
    )
    row = page.locator("#contract_memberships-group tbody tr").first.inner_text()
    assert "Acme 2026" in row and "Acme University" in row and "manual" in row and "1 of 3" in row

    # the contract counts the learner
    page.goto(f"{site}/admin/b2b/contractpage/{contract.pk}/change/")
    assert page.inner_text("[data-b2b=learners]") == "1 of 3 learners"

    # deleting the contract in Wagtail is refused
    page.goto(f"{site}/cms/pages/{contract.pk}/delete/")
    message = page.inner_text(".messages")
    assert re.search(
        r"Contract 'Acme 2026' cannot be deleted: it has 1 learner\. Deactivate it instead", message
    )
    assert ContractPage.objects.filter(pk=contract.pk).exists()


def test_b2b_staff_see_a_learners_identity_read_only_and_no_password_form(site, page):
    learner = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    member = staff_member()
    page.goto(f"{site}/admin/login/")
    page.fill("input[name=username]", member.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    failed = []
    page.on(
        "response",
        lambda r: (
            failed.append((r.status, r.url))
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto(f"{site}/admin/main/user/{learner.pk}/change/")

    # The identity is text on the page, not a field to type into.
    form = page.locator("#user_form")
    for label, value in (("Username", "ada"), ("Email address", "ada@example.edu")):
        row = form.locator(".form-row", has=page.locator("label", has_text=label)).first
        assert row.locator(".readonly").inner_text().strip() == value
    assert page.inner_text(".field-name .readonly").strip() == "Ada Lovelace"
    assert page.get_attribute(".field-is_active .readonly img", "alt") == "True"
    for name in ("username", "email", "name", "is_active", "is_staff", "password"):
        assert form.locator(f"[name={name}]").count() == 0
    assert page.inner_text("#user_form fieldset .description").strip() == (
        "A superuser changes an account's details and password. You attach this user to "
        "contracts, or detach them, below."
    )
    # No password row and no link to the password form.
    assert form.locator(".field-password").count() == 0
    links = page.eval_on_selector_all("a", "anchors => anchors.map(a => a.href)")
    assert not [href for href in links if href.endswith(f"/user/{learner.pk}/password/")]
    assert "Reset password" not in page.inner_text("body")
    # The contract memberships stay theirs to manage.
    assert page.locator("#contract_memberships-2-group").is_visible()
    assert page.locator("input[name=_save]").is_visible()
    assert failed == []
    # No sideways scrolling on a phone either.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1

    # Typing the password form's address answers 403.
    response = page.goto(f"{site}/admin/main/user/{learner.pk}/password/")
    assert response.status == 403
    learner.refresh_from_db()
    assert learner.check_password("learner-password") is True
