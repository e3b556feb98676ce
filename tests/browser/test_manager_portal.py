"""A manager in a real browser, at a desktop and a phone width (SPEC §9): signs in, opens the
contract in the managers' portal, uploads a CSV of 30 emails for 25 free seats, reads the
preview, assigns, and sees 25 assigned and 5 ``no-seat``. A new person follows the invitation
mailed to them, signs up with that address, confirms it, and joins the contract with the seat's
code. Every page fits the screen and no request fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from b2b.models import ContractMembership, OrganizationManager, SeatAssignment
from tests.b2b.helpers import new_contract
from tests.browser.test_accounts import fits, link_in, mailbox
from tests.factories import ContractRunFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def shot(tab: Page, name: str) -> None:
    if SCREENSHOTS:
        width = tab.viewport_size["width"] if tab.viewport_size else 0
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=f"{SCREENSHOTS}/{name}-{width}.png", full_page=True)


def test_a_manager_assigns_25_seats_of_30_and_a_newcomer_takes_one(
    tab, live_site, sent_mail, wagtail_site, catalog, tmp_path
):
    contract = new_contract("Economics 2026", max_learners=30, org="UniversityX", key="UX")
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    for index in range(5):
        ContractMembership.objects.create(
            user=UserFactory(username=f"member{index}"), contract=contract, source="manual"
        )
    manager = UserFactory(username="boss", email="boss@universityx.edu", name="Morgan Boss")
    OrganizationManager.objects.create(
        organization=contract.organization, email=manager.email, user=manager
    )
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name\n" + "".join(f"person{i:02}@universityx.edu,Person {i}\n" for i in range(30))
    )

    tab.goto(f"{live_site}/login/")
    tab.get_by_label("Email or username").fill("boss@universityx.edu")
    tab.get_by_label("Password").fill("learner-password")
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(f"{live_site}/dashboard/")
    tab.get_by_role("link", name="Manage your organization").click()
    expect(tab.get_by_role("heading", name="UniversityX")).to_be_visible()
    fits(tab)
    shot(tab, "manage")
    tab.get_by_role("link", name="Economics 2026").click()
    expect(tab.locator('[data-seat="free"]')).to_have_text("25")
    fits(tab)
    tab.get_by_role("link", name="Assign seats by email").click()
    expect(tab.get_by_role("heading", name="Assign seats by email")).to_be_visible()
    tab.get_by_label("Or a CSV file").set_input_files(str(people))
    tab.get_by_role("button", name="Preview").click()
    expect(tab.get_by_text("Preview: nothing is assigned yet.")).to_be_visible()
    expect(tab.locator('[data-outcome="assigned"] >> nth=0')).to_be_visible()
    expect(tab.locator('tr[data-outcome="assigned"]')).to_have_count(25)
    expect(tab.locator('tr[data-outcome="no-seat"]')).to_have_count(5)
    expect(tab.locator('tr[data-outcome="no-seat"]').first).to_contain_text(
        "person25@universityx.edu"
    )
    assert SeatAssignment.objects.count() == 0
    fits(tab)
    shot(tab, "assign-preview")
    tab.get_by_role("button", name="Assign 25 seats").click()
    expect(tab.get_by_text("25 seats assigned; invitations are on their way.")).to_be_visible()
    expect(tab.locator('strong[data-outcome="assigned"]')).to_have_text("25")
    expect(tab.locator('strong[data-outcome="no-seat"]')).to_have_text("5")
    fits(tab)
    shot(tab, "assign-applied")
    assert SeatAssignment.objects.filter(status="open").count() == 25
    tab.get_by_role("link", name="See the seats assigned").click()
    expect(tab.locator("tr[data-assignment]")).to_have_count(25)
    fits(tab)
    shot(tab, "assignments")
    tab.get_by_role("button", name="Log out").click()

    # A newcomer follows the invitation, signs up with that address and joins.
    invitation = next(m for m in mailbox(sent_mail) if m["To"] == "person00@universityx.edu")
    assert invitation["Subject"] == "UniversityX has a seat for you on Learning"
    tab.goto(link_in(invitation, live_site))
    tab.get_by_role("link", name="Create an account").click()
    tab.get_by_label("Full name").fill("Person Zero")
    tab.get_by_label("Email").fill("person00@universityx.edu")
    tab.get_by_label("Password").fill("a-long-pass-phrase")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()
    confirm = next(
        m
        for m in mailbox(sent_mail)
        if m["Subject"] == "Confirm your email address to finish signing up"
    )
    tab.goto(link_in(confirm, live_site))
    tab.get_by_role("button", name="Yes, confirm it").click()
    shot(tab, "newcomer-confirmed")
    join = link_in(invitation, live_site)
    tab.goto(join)
    tab.get_by_role("button", name="Join").click()
    expect(tab).to_have_url(f"{live_site}/dashboard/#contract-{contract.pk}")
    expect(tab.get_by_text("Welcome: you joined UniversityX’s “Economics 2026”.", exact=False))
    fits(tab)
    shot(tab, "newcomer-joined")
    assert SeatAssignment.objects.get(email="person00@universityx.edu").status == "joined"
    assert ContractMembership.objects.filter(contract=contract).count() == 6
