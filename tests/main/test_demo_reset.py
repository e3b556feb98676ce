"""``manage.py demo_reset`` (``make demo``'s first step): the embedded SQLite database is emptied,
any other only when asked."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from main.models import User
from tests.factories import UserFactory
from tests.main.test_settings import python

SETUP = "import django; django.setup(); from django.core.management import call_command; "


def test_a_postgresql_database_is_left_alone_unless_asked_to_reset_it():
    result = python(
        SETUP + "call_command('demo_reset')",
        DATABASE_URL="postgres://user@db.example.edu:5432/contracts",
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.management.base.CommandError: `make demo` empties the database, and "
        "DATABASE_URL points at the PostgreSQL database 'contracts', which is not the demo's "
        "own: nothing was changed. Set DEMO_RESET=yes to empty it for the demo, or unset "
        "DATABASE_URL to use the embedded SQLite database."
    )


@pytest.mark.django_db(transaction=True)
def test_the_database_is_emptied_when_it_is_the_demo_s_or_when_asked(monkeypatch):
    UserFactory(username="ada")
    if connection.vendor != "sqlite":
        monkeypatch.setenv("DEMO_RESET", "yes")
    out = io.StringIO()

    call_command("demo_reset", stdout=out)

    assert User.objects.count() == 0
    name = connection.settings_dict["NAME"]
    assert (
        out.getvalue() == f"Emptied the {connection.display_name} database {name!r} for the demo.\n"
    )
