"""The site as ``make run`` serves it (``manage.py runserver``, DEBUG on): the admins' own
stylesheets and scripts load, so both admins render styled."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_make_run_serves_the_admins_css_and_js(made_site, made_page):
    base, _env = made_site
    assets: list[str] = []
    made_page.on(
        "response",
        lambda r: (
            assets.append(f"{r.status} {r.url.split('?')[0].rsplit('.', 1)[-1]}")
            if "/static/" in r.url
            else None
        ),
    )
    for path in ("/cms/login/", "/admin/login/"):
        made_page.goto(base + path)
        made_page.wait_for_load_state("networkidle")
    assert made_page.failed == []
    assert "200 css" in assets and "200 js" in assets
    # Wagtail's stylesheet is applied: its login form is laid out, not raw HTML.
    made_page.goto(base + "/cms/login/")
    button = made_page.locator("button[type=submit]")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"
