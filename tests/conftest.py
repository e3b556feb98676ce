"""Shared fixtures: a fast password hasher, the Wagtail tree, a small catalog, command runner."""

import io
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from b2b.models import (
    ContractCodesPending,
    ContractCourseware,
    ContractMembership,
    ContractPage,
    OrganizationPage,
)
from courses.models import Course, CourseRun, Program
from ecommerce.models import Discount, DiscountProduct, DiscountRedemption, Product
from main.services import site_configure
from tests.factories import course_with_source, program_with


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Django's default hasher costs about half a second a hash on this machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test counts its own code attempts and login failures (the cache holds them)."""
    # allauth's rate limits (a confirmation mail per address every 3 minutes...) count in the
    # cache: each test starts with none spent.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _edx_off(settings):
    """Open edX off, as embedded, whatever the environment says; tests that need it point the
    settings at a stand-in (tests/openedx/conftest.py). No client or token outlives a test."""
    from openedx.api import REQUIRED_SETTINGS
    from openedx.client import edx_client_reset

    for name in REQUIRED_SETTINGS:
        setattr(settings, name, "")
    edx_client_reset()
    yield
    edx_client_reset()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, django_db_use_migrations, tmp_path_factory):
    """pytest-django's test database; on SQLite, a copy of it as migrated, taken before any test
    runs (``migrated_sqlite``): the set-up the operator's ``manage.py`` processes start from,
    instead of migrating again in a process of their own (about 10 s of CPU each time here)."""
    from django.db import connection

    # Only when the test database was set up: pytest-django sets up none when no collected test
    # asks for one (``pytest tests/b2b/test_exit_codes.py``), and the connection is then the
    # project's own db.sqlite3 (the demo's data, or an empty file), which must not be copied.
    if connection.vendor == "sqlite" and django_db_use_migrations and connection.is_in_memory_db():
        path = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
        with django_db_blocker.unblock():
            connection.ensure_connection()
            target = sqlite3.connect(path)
            try:
                connection.connection.backup(target)
            finally:
                target.close()
        _MIGRATED_SQLITE.append(path)
    yield


_MIGRATED_SQLITE: list[Path] = []


@pytest.fixture(scope="session")
def migrated_sqlite(django_db_setup) -> Path | None:
    """A SQLite file with every migration applied and nothing else (the test database as
    ``migrate`` left it), or None when the tests run on another database."""
    return _MIGRATED_SQLITE[0] if _MIGRATED_SQLITE else None


@pytest.fixture
def wagtail_site(db):
    """Home → Organizations, as ``configure_wagtail`` makes it."""
    return site_configure()


@dataclass
class Catalog:
    data: Course  # 14.310x-like course with a source run
    micro: Course
    no_source: Course
    nested_only: Course
    program: Program
    inner: Program


@pytest.fixture
def catalog(db):
    """A small catalog: three courses with source runs, one without, a program with a nested one."""
    data = course_with_source("course-v1:MITxT+14.310x", "Data Analysis for Social Scientists")
    micro = course_with_source("course-v1:MITxT+14.100x", "Microeconomics")
    nested_only = course_with_source("course-v1:MITxT+14.73x", "The Challenges of Global Poverty")
    no_source = Course.objects.create(
        readable_id="course-v1:MITxT+JPAL102x", title="Randomized Evaluations"
    )
    inner = program_with("program-v1:MITx+INNER", "Inner program", required=[nested_only])
    program = program_with(
        "program-v1:MITx+DEDP", "DEDP", required=[data, micro], electives=[inner], minimum=1
    )
    return Catalog(data, micro, no_source, nested_only, program, inner)


@dataclass
class Output:
    stdout: str
    stderr: str


@pytest.fixture
def run_command(django_capture_on_commit_callbacks):
    """Run a management command as an operator would, executing on-commit tasks (eager Celery)."""

    def run(*argv: str) -> Output:
        out, err = io.StringIO(), io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(*argv, stdout=out, stderr=err)
        return Output(out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def add_courseware(django_capture_on_commit_callbacks):
    """``add_courseware(contract, readable_id)``: the courseware service's add (no command), with
    what it queues on commit (the code adjustment, Open edX re-runs) run after it, as eager Celery
    runs it. Returns the service's result."""
    from b2b.services.courseware import courseware_add

    def add(contract, readable_id: str, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return courseware_add(contract.pk, readable_id, **options)

    return add


def db_state() -> dict:
    """Everything a refused command must leave untouched, as comparable values."""
    return {
        "organizations": list(OrganizationPage.objects.values().order_by("pk")),
        "contracts": list(ContractPage.objects.values().order_by("pk")),
        "courseware": list(ContractCourseware.objects.values().order_by("pk")),
        "memberships": list(ContractMembership.objects.values().order_by("pk")),
        "runs": list(CourseRun.objects.values().order_by("pk")),
        "products": list(Product.objects.values().order_by("pk")),
        "codes": list(Discount.objects.values().order_by("pk")),
        "links": list(DiscountProduct.objects.values().order_by("pk")),
        "redemptions": list(DiscountRedemption.objects.values().order_by("pk")),
        "codes_pending": list(ContractCodesPending.objects.values().order_by("pk")),
    }


@pytest.fixture
def unchanged(django_capture_on_commit_callbacks):
    """``with unchanged(): ...`` asserts the block changed nothing in the database and queued nothing."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = db_state()
        with django_capture_on_commit_callbacks() as callbacks:
            yield
        assert callbacks == []
        assert db_state() == before

    return check
