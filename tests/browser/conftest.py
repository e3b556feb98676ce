"""A real browser for the staff-surface tests: Playwright driving Debian's chromium, headless.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it), never from
``playwright install``. The site runs in a live server on a free port that serves one request
at a time: on SQLite the test database is in memory and the server shares the test's
connection, which two requests at once (the editor's session pings and a form post) would trip
over.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread

from tests.shop import payments  # noqa: F401  (fixture: CyberSource configured)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: The widths every learner page is looked at: a desktop and a phone.
WIDTHS = {"desktop": 1280, "phone": 390}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_site):
    # Closed before the live site stops: a keep-alive connection closing after it would meet the
    # server thread's database connection already handed back.
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


class OneAtATime:
    """The site's WSGI application, running one request at a time (connections stay open)."""

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = StaticFilesHandler(app)  # static files from the apps, as runserver serves them
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        with self.lock:
            return self.app(environ, start_response)


@pytest.fixture
def live_site(transactional_db, settings):
    """The site's base URL, served by a live server thread for this test."""
    settings.WAGTAIL_EDITING_SESSION_PING_INTERVAL = 3_600_000  # no pings mid-test
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = LiveServerThread("127.0.0.1", OneAtATime, connections_override=shared)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def tab(request, browser, live_site):
    """A browser tab at the width of the parameter, recording failed requests; closed before
    the live site stops."""
    context = browser.new_context(viewport={"width": WIDTHS[request.param], "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.failed = []
    page.on("requestfailed", lambda r: page.failed.append(f"{r.method} {r.url}"))
    page.on(
        "response",
        lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    yield page
    assert page.failed == []
    context.close()


@pytest.fixture
def sent_mail(settings, tmp_path, live_site):
    """Mail goes to files in a sent-mail directory (the demo's set-up); links to the live site."""
    settings.SITE_BASE_URL = live_site
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "sent-mail")
    return tmp_path / "sent-mail"


RUNSERVER_PORT = int(os.environ.get("B2B_RUNSERVER_PORT", "8121"))


@pytest.fixture(scope="session")
def runserver_db(migrated_sqlite, tmp_path_factory):
    """A SQLite database set up as ``make setup`` sets one up (migrate, ``configure_wagtail``)."""
    import shutil as _shutil

    from tests.b2b.operator import operator_database

    db = tmp_path_factory.mktemp("runserver") / "db.sqlite3"
    if migrated_sqlite is None:
        return operator_database(db)
    _shutil.copyfile(migrated_sqlite, db)
    return operator_database(db, migrate=False)


@pytest.fixture
def site_db(runserver_db):
    """The database ``made_site`` starts from (a copy of it): a set-up one; override it."""
    return runserver_db


@pytest.fixture(scope="session")
def demo_db(runserver_db, tmp_path_factory):
    """A set-up database with what ``make demo`` puts in it: the real catalog
    (``load_catalog``), both walkthroughs and the demo's staff login (``b2b_demo``)."""
    import shutil as _shutil

    from tests.b2b.operator import manage, operator_env_for

    db = tmp_path_factory.mktemp("demo") / "db.sqlite3"
    _shutil.copyfile(runserver_db, db)
    env = operator_env_for(db)
    env["EMAIL_FILE_PATH"] = str(db.parent / "sent-mail")
    for argv in (["load_catalog"], ["b2b_demo"]):
        done = manage(env, *argv)
        assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def made_site(site_db, tmp_path):
    """``(base URL, environment)`` of the site started exactly as ``make run`` starts it:
    ``manage.py runserver`` in a process of its own (DEBUG on, static files served by the site
    itself), on a copy of a set-up database. The environment runs ``manage.py`` on the same
    database (``tests.b2b.operator.manage``)."""
    import shutil as _shutil
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.b2b.operator import PROJECT, operator_env_for

    db = tmp_path / "db.sqlite3"
    _shutil.copyfile(site_db, db)
    env = operator_env_for(db)
    env.pop("DEBUG", None)
    env["MEDIA_ROOT"] = str(tmp_path / "media")
    env["EMAIL_FILE_PATH"] = str(tmp_path / "sent-mail")
    base = f"http://127.0.0.1:{RUNSERVER_PORT}"
    log = open(tmp_path / "runserver.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{RUNSERVER_PORT}"],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/cms/login/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(
                        "runserver did not start:\n" + (tmp_path / "runserver.log").read_text()
                    ) from None
                time.sleep(0.3)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def made_page(browser, made_site):
    """A browser tab (1280 px wide) for the ``make run`` site; ``failed`` lists every request
    of the tab that failed or answered 4xx/5xx, as ``"<status> <url>"``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    failed: list[str] = []
    tab.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    tab.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    tab.failed = failed  # type: ignore[attr-defined]
    yield tab
    context.close()
