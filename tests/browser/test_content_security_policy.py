"""The pages under their Content-Security-Policy, in a real browser: a learner's whole journey
(login, Product URL, a refused code, a good one, checkout, the dashboard, the payment page) and
the staff surfaces, with no policy violation in the console and no failed request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect

from tests.b2b.helpers import make_contract
from tests.factories import UserFactory
from tests.shop import SECURITY_KEY

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAY = "https://testsecureacceptance.cybersource.com/pay"


@dataclass
class Watch:
    """What the browser reports while the pages load: console errors and warnings (a CSP
    violation is one), ``securitypolicyviolation`` events, requests that failed or got a 4xx/5xx
    for anything but the page itself, and each page's policy header."""

    console: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)

    def clean(self) -> bool:
        return not (self.console or self.violations or self.failed)


def watch(page) -> Watch:
    seen = Watch()

    def console(message) -> None:
        # A page answered with a 4xx on purpose (a refused code) is logged as a failed load:
        # resources are checked one by one below, pages by the test.
        if message.type in ("error", "warning") and not message.text.startswith(
            "Failed to load resource"
        ):
            seen.console.append(f"{message.type}: {message.text}")

    page.on("console", console)
    # Reported from inside each page (the init script is injected by the browser, not the page).
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on("requestfailed", lambda r: seen.failed.append(f"{r.url}: {r.failure}"))

    def response(r) -> None:
        if r.request.resource_type == "document":
            if r.status < 300 or r.status >= 400:  # pages, not redirects
                seen.policies[r.url] = r.headers.get("content-security-policy", "")
        elif r.status >= 400:
            seen.failed.append(f"{r.url}: {r.status}")

    page.on("response", response)
    return seen


def test_a_learners_pages_load_under_the_policy_with_no_violation(
    page, live_site, settings, wagtail_site, catalog, run_command
):
    settings.SITE_BASE_URL = live_site
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY = "test-access-key"
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID = "test-profile-id"
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURITY_KEY = SECURITY_KEY
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL = GATEWAY
    free = make_contract(
        run_command, "Free", "non-sso", "--max-learners", "2", org="Acme", key="ACME"
    )
    paid = make_contract(run_command, "Paid", "non-sso", "--max-learners", "2", "--price", "40")
    for contract in (free, paid):
        run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    free_product = free.course_runs.get().products.get()
    paid_product = paid.course_runs.get().products.get()
    free_code = free_product.discount_links.first().discount.discount_code
    paid_code = paid_product.discount_links.first().discount.discount_code
    UserFactory(username="grace", password="a-long-passphrase")
    # The gateway is not reached from here: the browser's post to it is answered locally.
    page.route(f"{GATEWAY}**", lambda route: route.fulfill(status=200, body="<p>gateway</p>"))
    seen = watch(page)

    page.goto(f"{live_site}/")
    page.goto(f"{live_site}/cart/add/?product_id={free_product.pk}")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_site}/cart/")
    page.get_by_role("textbox", name="Enrollment code").fill("not-my-code")
    page.get_by_role("button", name="Apply code").click()
    expect(page.locator("#code-error")).to_have_attribute("data-code", "invalid-code")
    page.get_by_role("textbox", name="Enrollment code").fill(free_code)
    page.get_by_role("button", name="Apply code").click()
    expect(page.get_by_test_id("applied-code")).to_have_text(free_code)
    # The inline script (allowed by its nonce) disables the button as the form goes.
    page.get_by_role("button", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?order=\d+$"))
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    # The page's own styles apply (the inline <style> with its nonce): the header is a flex row.
    assert page.eval_on_selector("header.site .bar", "e => getComputedStyle(e).display") == "flex"

    page.goto(f"{live_site}/cart/add/?product_id={paid_product.pk}")
    page.get_by_role("textbox", name="Enrollment code").fill(paid_code)
    page.get_by_role("button", name="Apply code").click()
    with page.expect_request(f"{GATEWAY}**") as posted:
        page.get_by_role("button", name=re.compile("Check out and pay")).click()
    assert posted.value.method == "POST"  # the payment page's script sent its form to the gateway
    expect(page.get_by_text("gateway")).to_be_visible()

    assert seen.clean(), seen
    learner_pages = {
        url.removeprefix(live_site).split("?")[0]: policy
        for url, policy in seen.policies.items()
        if url.startswith(live_site)
    }
    # home, login, cart, the refused code (400), dashboard, the payment page
    assert sorted(learner_pages) == [
        "/",
        "/cart/",
        "/cart/code/",
        "/checkout/",
        "/dashboard/",
        "/login/",
    ]
    assert all("script-src 'self' 'nonce-" in p for p in learner_pages.values()), learner_pages
    assert (
        "form-action 'self' https://testsecureacceptance.cybersource.com"
        in learner_pages["/checkout/"]
    )

    # The watch would have seen a violation: an inline style attribute is refused.
    page.goto(f"{live_site}/dashboard/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_timeout(200)
    assert any("style-src" in line for line in seen.console), seen.console


def test_the_staff_surfaces_load_under_the_policy_with_no_violation(
    page, live_site, wagtail_site, run_command, admin_user
):
    contract = make_contract(run_command, "Acme 2026", "non-sso", "--max-learners", "5")
    admin_user.set_password("an-admin-passphrase")
    admin_user.save()
    seen = watch(page)

    page.goto(f"{live_site}/cms/login/")
    page.fill("input[name=username]", admin_user.username)
    page.fill("input[name=password]", "an-admin-passphrase")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_site}/cms/")
    for path in (
        f"/cms/pages/{contract.organization_id}/",
        f"/cms/pages/{contract.pk}/edit/",
        f"/cms/pages/{contract.organization_id}/edit/",
        "/admin/",
        "/admin/main/user/",
        f"/admin/main/user/{admin_user.pk}/change/",
        "/admin/ecommerce/discount/",
    ):
        page.goto(f"{live_site}{path}")
        page.wait_for_load_state("networkidle")

    assert seen.clean(), seen
    for url, policy in seen.policies.items():
        relaxed = "/cms/" in url  # Wagtail's widgets write inline scripts
        script_src = "script-src 'self' 'unsafe-inline';" if relaxed else "script-src 'self';"
        assert f"{script_src}" in f"{policy};", (url, policy)
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert sum("/admin/" in url for url in seen.policies) == 4
