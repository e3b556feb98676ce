"""A learner's own account in a real browser, at a desktop and a phone width: sign up, read the
confirmation mail the site wrote with the file backend (as in the demo's sent-mail/), confirm,
log in, land on My courses; reset a forgotten password; a new learner arriving by a Product
URL gets back to the cart. Every page fits the screen (no horizontal scrolling) and no request
fails."""

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from main.models import User
from tests.b2b.helpers import make_contract
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # between messages in a file of Django's file backend


def mailbox(directory: Path) -> list[EmailMessage]:
    """Every message in the file backend's directory, oldest first."""
    messages = []
    for path in sorted(directory.glob("*.log"), key=lambda p: (p.stat().st_mtime_ns, p.name)):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                messages.append(message_from_bytes(chunk, policy=policy.default))
    return messages


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message: EmailMessage, site: str) -> str:
    found = re.findall(rf"{re.escape(site)}/\S+", text_of(message))
    assert found, text_of(message)
    return found[0]


def fits(page: Page) -> None:
    """The page needs no horizontal scrolling."""
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert width <= inner, f"{page.url} is {width}px wide in a {inner}px window"


def test_a_new_learner_signs_up_confirms_by_mail_and_lands_on_my_courses(tab, live_site, sent_mail):
    tab.goto(f"{live_site}/login/")
    fits(tab)
    tab.get_by_role("link", name="Create an account").click()
    expect(tab.get_by_role("heading", name="Create an account")).to_be_visible()
    fits(tab)
    tab.get_by_label("Full name").fill("Grace Hopper")
    tab.get_by_label("Email").fill("grace@example.edu")
    tab.get_by_label("Password").fill("short")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.locator("#id_password1_error")).to_have_text(
        "This password is too short. It must contain at least 8 characters."
    )
    expect(tab.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    fits(tab)
    assert User.objects.count() == 0

    tab.get_by_label("Password").fill("c0bol-and-ships")
    tab.get_by_role("button", name="Create account").click()

    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()
    fits(tab)
    [message] = mailbox(sent_mail)
    assert (message["To"], message["Subject"]) == (
        "grace@example.edu",
        "Confirm your email address to finish signing up",
    )
    tab.goto(link_in(message, live_site))
    expect(tab.get_by_text("Is grace@example.edu your email address?")).to_be_visible()
    fits(tab)
    tab.get_by_role("button", name="Yes, confirm it").click()

    expect(tab).to_have_url(f"{live_site}/dashboard/")
    expect(tab.get_by_role("heading", name="My courses")).to_be_visible()
    expect(tab.get_by_text("Your email address grace@example.edu is confirmed.")).to_be_visible()
    expect(tab.get_by_role("link", name="Grace Hopper")).to_be_visible()
    fits(tab)

    tab.get_by_role("button", name="Log out").click()
    expect(tab).to_have_url(f"{live_site}/login/")
    expect(tab.get_by_text("You have logged out.")).to_be_visible()
    tab.get_by_label("Email or username").fill("grace@example.edu")
    tab.get_by_label("Password").fill("c0bol-and-ships")
    tab.get_by_role("button", name="Log in").click()

    expect(tab).to_have_url(f"{live_site}/dashboard/")
    expect(tab.get_by_role("heading", name="My courses")).to_be_visible()
    grace = User.objects.get()
    assert list(grace.emailaddress_set.values_list("email", "verified", "primary")) == [
        ("grace@example.edu", True, True)
    ]


def test_password_reset_end_to_end(tab, live_site, sent_mail):
    UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    tab.goto(f"{live_site}/login/")
    tab.get_by_role("link", name="Forgot your password?").click()
    expect(tab.get_by_role("heading", name="Reset your password")).to_be_visible()
    fits(tab)
    tab.get_by_label("Email").fill("ada@example.edu")
    tab.get_by_role("button", name="Email me a link").click()
    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()
    fits(tab)

    [message] = mailbox(sent_mail)
    assert (message["To"], message["Subject"]) == ("ada@example.edu", "Reset your password")
    tab.goto(link_in(message, live_site))
    expect(tab.get_by_role("heading", name="Choose a new password")).to_be_visible()
    fits(tab)
    tab.get_by_label("New password", exact=True).fill("analytical-engine")
    tab.get_by_label("New password (again)").fill("analytical-engine")
    tab.get_by_role("button", name="Save the new password").click()
    expect(tab.get_by_role("heading", name="Your password is changed")).to_be_visible()
    fits(tab)
    tab.get_by_role("link", name="Log in", exact=True).last.click()

    tab.get_by_label("Email or username").fill("ada@example.edu")
    tab.get_by_label("Password").fill("analytical-engine")
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(f"{live_site}/dashboard/")
    expect(tab.get_by_role("heading", name="My courses")).to_be_visible()
    assert [m["Subject"] for m in mailbox(sent_mail)] == [
        "Reset your password",
        "Your password was reset",
    ]


def test_a_new_learner_with_a_product_url_signs_up_and_gets_back_to_the_cart(
    tab, live_site, sent_mail, wagtail_site, catalog, run_command
):
    contract = make_contract(run_command, "Acme Contract", "non-sso", org="Acme", key="ACME")
    run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    from ecommerce.models import Product

    product = Product.objects.get(course_run__b2b_contract=contract, is_active=True)

    tab.goto(f"{live_site}/cart/add/?product_id={product.pk}")
    expect(tab.get_by_text("Log in to continue.")).to_be_visible()
    fits(tab)
    tab.get_by_role("link", name="Create an account").click()
    tab.get_by_label("Full name").fill("Alan Turing")
    tab.get_by_label("Email").fill("alan@example.edu")
    tab.get_by_label("Password").fill("enigma-machine")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()
    tab.goto(link_in(mailbox(sent_mail)[0], live_site))
    tab.get_by_role("button", name="Yes, confirm it").click()

    expect(tab).to_have_url(f"{live_site}/cart/")
    expect(tab.get_by_role("heading", name="Data Analysis for Social Scientists")).to_be_visible()
    expect(tab.get_by_role("link", name="Alan Turing")).to_be_visible()
