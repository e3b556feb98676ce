"""A member of staff runs a contract from the web, without a terminal (SPEC §7): the demo's staff
login on the site started as ``make run`` starts it (``manage.py runserver``, static files by the
site itself), on the demo's database (``make demo``: the real catalog and the staff login)."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from b2b.management.commands.b2b_demo import STAFF_PASSWORD, STAFF_USERNAME

pytestmark = pytest.mark.django_db(transaction=True)

COURSE, COURSE_TITLE = "course-v1:MITxT+14.73x", "The Challenges of Global Poverty"
PROGRAM = "program-v1:MITxT+18.03x"
CAP = 3


@pytest.fixture
def site_db(demo_db):
    return demo_db


@pytest.fixture
def shots(tmp_path):
    """Where the screenshots go: ``$B2B_SCREENSHOTS`` or the test's own directory."""
    folder = Path(os.environ.get("B2B_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot


def message(page) -> str:
    return page.locator(".messages").inner_text().strip()


def test_staff_run_a_contract_from_the_web(made_site, made_page, shots, tmp_path):
    base, _env = made_site
    page = made_page

    # the demo's staff login
    page.goto(f"{base}/cms/login/")
    page.fill("input[name=username]", STAFF_USERNAME)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/cms/")

    # Pages (staff see the Organizations page) → add an organization; Publish is the primary
    # action
    page.goto(f"{base}/cms/pages/")
    assert page.locator("h1").first.inner_text().strip() == "Exploring: Organizations"
    page.locator("header a[href$='/add_subpage/']").first.click()
    page.fill("input[name=name]", "Acme University")
    page.fill("input[name=org_key]", "ACME")
    assert (
        page.locator("label[for=id_sso_organization_id]")
        .inner_text()
        .startswith("SSO organization ID")
    )
    shots(page, "01-organization-new")
    assert page.locator("footer button[name=action-publish]").first.is_visible()
    with page.expect_navigation():
        page.locator("footer button[name=action-publish]").first.click()
    assert "Page 'Acme University' created and published." in message(page)

    # the organization's page → add a capped contract
    row = page.locator("table tr", has_text="Acme University")
    row.get_by_role("button", name="More options for 'Acme University'").click()
    row.get_by_role("link", name="Add child page").click()
    page.fill("input[name=name]", "Acme 2026")
    page.select_option("select[name=integration_type]", "non-sso")
    page.fill("input[name=max_learners]", str(CAP))
    shots(page, "02-contract-new")
    with page.expect_navigation():
        page.locator("footer button[name=action-publish]").first.click()
    assert "Page 'Acme 2026' created and published." in message(page)
    # (the listing's bulk "Unpublish" is refused by a hook for organizations and contracts)
    assert page.locator("a:not(.bulk-action-btn)", has_text="Unpublish").count() == 0
    assert page.locator("#main").get_by_role("link", name="View live").count() == 0

    # from the contract's edit page to its own pages
    page.locator("table tr", has_text="Acme 2026").locator("a[title='Edit this page']").click()
    shots(page, "03-contract-edit")
    page.locator("[data-b2b=manage]").click()
    assert page.locator("[data-b2b=in-force]").inner_text() == "In force"
    assert page.locator("[data-b2b=seats]").inner_text().count(f"0 of {CAP} learners") == 1

    # courseware: find the course by title, read the plan, then add it
    page.locator("#main").get_by_role("link", name="Courseware", exact=True).click()
    page.fill("#b2b-courseware-q", "Poverty")
    page.locator("#main").get_by_role("button", name="Search").click()
    results = page.locator("[data-b2b=courseware-results]")
    assert COURSE in results.inner_text() and COURSE_TITLE in results.inner_text()
    shots(page, "04-courseware-search")
    results.locator(f"a[href$='readable_id={quote(COURSE, safe='')}']").click()
    plan = page.locator("[data-b2b=plan]")
    assert "Nothing has changed yet" in plan.inner_text()
    assert page.locator("[data-b2b=plan-codes] tbody tr").count() == 1
    assert f"{CAP} one-time" in page.locator("[data-b2b=plan-codes]").inner_text()
    shots(page, "05-courseware-plan-course")
    page.locator("[data-b2b=plan-confirm]").click()
    assert f"{COURSE}" in message(page)

    # a program, by its readable ID, after its plan
    page.fill("#b2b-courseware-q", PROGRAM)
    page.locator("#main").get_by_role("button", name="Search").click()
    page.locator(
        f"[data-b2b=courseware-results] a[href$='readable_id={quote(PROGRAM, safe='')}']"
    ).click()
    assert "Nothing has changed yet" in page.locator("[data-b2b=plan]").inner_text()
    program_runs = page.locator("[data-b2b=plan-items] tbody tr").count()
    assert program_runs >= 1
    shots(page, "06-courseware-plan-program")
    page.locator("[data-b2b=plan-confirm]").click()
    assert PROGRAM in message(page)
    runs = page.locator("[data-b2b=courseware] tbody tr", has_text="course-v1:UAI_ACME").count()
    assert runs == 1 + program_runs
    shots(page, "07-courseware")

    # the codes: the CSV, then deactivate a leaked code
    page.locator("#main").get_by_role("link", name="Enrollment codes", exact=True).click()
    assert page.locator("[data-b2b=codes-count]").inner_text() == f"{CAP * runs} codes."
    with page.expect_download() as download:
        page.locator("[data-b2b=codes-csv]").click()
    saved = tmp_path / "codes.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["Code", "Product", "Redeemed", "Product URL"]
    assert len(rows) == 1 + CAP * runs
    assert {row[2] for row in rows[1:]} == {"No"}
    assert all(re.fullmatch(r".*/cart/add/\?product_id=\d+", row[3]) for row in rows[1:])
    shots(page, "08-codes")
    leaked = rows[1][0]
    page.locator(f"input[name=code][value='{leaked}']").check()
    page.locator("[data-b2b=codes-deactivate]").click()
    assert leaked in page.locator("[data-b2b=deactivate-confirm]").inner_text()
    shots(page, "09-codes-deactivate")
    page.locator("[data-b2b=deactivate-yes]").click()
    assert f"Deactivated 1 code: {leaked}." in message(page)
    listing = page.locator("[data-b2b=codes-listing]").inner_text()
    assert leaked in listing and "deactivated" in listing

    # learners: attach the demo's Ada by email, then detach her
    page.locator("#main").get_by_role("link", name="Learners", exact=True).click()
    page.fill("input[name=email]", "nobody@example.edu")
    page.locator("#main").get_by_role("button", name="Attach").click()
    assert (
        page.locator("[data-b2b=attach-error]")
        .inner_text()
        .startswith("No account with the email nobody@example.edu")
    )
    page.fill("input[name=email]", "ada@example.edu")
    page.locator("#main").get_by_role("button", name="Attach").click()
    assert "ada@example.edu is attached to Acme 2026." in message(page)
    row = page.locator("[data-b2b=learners] tbody tr")
    assert row.count() == 1 and "Ada Lovelace" in row.inner_text() and "manual" in row.inner_text()
    shots(page, "10-learners")
    page.locator("[data-b2b=detach]").click()
    shots(page, "11-learner-detach")
    page.locator("[data-b2b=detach-yes]").click()
    assert "ada@example.edu is detached from Acme 2026" in message(page)

    # the history: who, through what, what changed
    page.locator("#main").get_by_role("link", name="History", exact=True).click()
    history = page.locator("[data-b2b=history]").inner_text()
    assert "B2B Staff <staff@example.com>" in history
    assert "Learner detached from the contract" in history
    assert "Enrollment codes deactivated" in history
    assert "Wagtail" in history
    shots(page, "12-history")

    # the overview: seats, codes and the chart
    page.locator("#main").get_by_role("link", name="Overview", exact=True).click()
    page.locator("[data-b2b=chart] svg").wait_for()
    assert "Learners attached: 1" in page.locator("[data-b2b=chart]").inner_text()
    assert page.locator("[data-b2b=codes-deactivated]").inner_text() == "1"
    shots(page, "13-overview")

    # on a phone (390 px): the pages fit, wide tables scroll inside their own box
    page.set_viewport_size({"width": 390, "height": 844})
    for tab in ("Overview", "Courseware", "Enrollment codes", "Learners", "History"):
        page.locator("nav.b2b-tabs").get_by_role("link", name=tab, exact=True).click()
        page.wait_for_load_state("networkidle")
        assert page.locator("nav.b2b-tabs [aria-current=page]").inner_text() == tab
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{tab}: {overflow}px wider than the phone"
        shots(page, f"14-phone-{tab.lower().replace(' ', '-')}")

    assert page.failed == []  # type: ignore[attr-defined]
