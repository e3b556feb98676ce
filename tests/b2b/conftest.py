"""Fixtures of the b2b tests: the shop's (offers, a learner, payments) and the operator's own
SQLite database for the commands run as processes."""

import shutil

import pytest

from tests.b2b.operator import operator_database, operator_env_for
from tests.shop import learner, make_offer, payments  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def operator_db_template(migrated_sqlite, tmp_path_factory):
    """A SQLite database set up once per session as an operator sets one up (``manage.py
    migrate``, then ``configure_wagtail``); tests get copies, never this file. On SQLite the
    migrations are the test database's own (``migrated_sqlite``), applied once per session."""
    db = tmp_path_factory.mktemp("operator-template") / "db.sqlite3"
    if migrated_sqlite is None:
        return operator_database(db)
    shutil.copyfile(migrated_sqlite, db)
    return operator_database(db, migrate=False)


@pytest.fixture
def operator_env(operator_db_template, tmp_path):
    """The environment of ``manage.py`` processes on a copy of the set-up database of their own,
    so the operator's commands touch nothing else and no test sees another's changes."""
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(operator_db_template, db)
    return operator_env_for(db)
