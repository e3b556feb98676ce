"""What the benchmarks share: a fresh PostgreSQL database, and Django set up and migrated on it."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def _admin_url(url: str) -> tuple[str, str]:
    """The server's ``postgres`` database URL and the benchmark database's name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres", query="")), parts.path.lstrip("/")


def fresh_database(url: str) -> None:
    """Drop the database of ``url`` (a postgres:// URL) if it exists, and create it empty."""
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_migrated() -> None:
    """Set Django up on ``DATABASE_URL`` with a fast password hasher (Django's default costs half
    a second a hash here), migrate, and make the site's pages."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from main.services import site_configure

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    site_configure()


def bench_database(variable: str, default: str) -> str | None:
    """The benchmark's database from ``variable`` (else ``default``), made afresh and set as the
    app's ``DATABASE_URL`` with tasks eager and quiet logs; ``None`` (after saying why on stderr)
    when it is not a PostgreSQL URL."""
    import sys

    url = os.environ.get(variable, default)
    if not url.startswith(("postgres://", "postgresql://")):
        print(f"{variable} must be a PostgreSQL URL, got {url!r}", file=sys.stderr)
        return None
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    print(f"Fresh database {_admin_url(url)[1]}; migrating...", file=sys.stderr)
    fresh_database(url)
    return url
