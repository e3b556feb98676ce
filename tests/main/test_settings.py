"""main.settings, read in a child process with a controlled environment (SPEC §3).

The test process itself may run on PostgreSQL (``DATABASE_URL``) or with a broker set, so every
check starts a fresh interpreter with exactly the environment it needs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Everything settings.py reads that could leak in from the test process's environment.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "DATABASE_RANDOM_PAGE_COST",
    "KEYCLOAK_SERVER_URL",
    "KEYCLOAK_REALM",
    "KEYCLOAK_CLIENT_ID",
    "KEYCLOAK_CLIENT_SECRET",
    "OIDC_DISCOVERY_URL",
    "CELERY_BROKER_URL",
    "SITE_BASE_URL",
    "CSRF_TRUSTED_ORIGINS",
    "TIME_ZONE",
    "MEDIA_ROOT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "OPENEDX_API_BASE_URL",
    "OPENEDX_STUDIO_API_BASE_URL",
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID",
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET",
    "TRUSTED_PROXIES",
    "CACHE_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "CODE_ATTEMPTS_PER_LEARNER",
    "CODE_ATTEMPTS_PER_ADDRESS",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_COOLOFF_MINUTES",
)
SECRET_MESSAGE = (
    "DEBUG is off, so SECRET_KEY must be set to a real secret of at least 32 characters "
    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
)
HOSTS_MESSAGE = (
    "DEBUG is off, so ALLOWED_HOSTS must list the host names this site is served on "
    "(comma-separated, for example ALLOWED_HOSTS=learn.example.edu)."
)
A_SECRET = "k3Jx9-Qw_Zr7vT2mLp8sNd4hYb6cFg1aEu5oWi0RtXyVqMnB3z"  # 50 characters
SETUP = "import django; django.setup()"
SHOW = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'name': str(s.DATABASES['default']['NAME']), "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, "
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
    "'staticfiles': s.STORAGES['staticfiles']['BACKEND'], 'site': s.SITE_BASE_URL}))"
)


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in the project with the settings module and only ``env`` set."""
    child_env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    child_env.update(DJANGO_SETTINGS_MODULE="main.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_shown(**env: str) -> dict:
    result = python(SHOW, **env)
    assert (result.returncode, result.stderr) == (0, "")
    return json.loads(result.stdout)


def test_debug_off_without_secret_key_refuses_to_start():
    # given DEBUG off and no SECRET_KEY
    # when Django starts
    result = python(SETUP, DEBUG="False", ALLOWED_HOSTS="learn.example.edu")

    # then it stops with the SECRET_KEY message, nothing on stdout
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {SECRET_MESSAGE}"
    )


def test_debug_off_with_a_short_or_placeholder_secret_key_refuses_to_start():
    for secret in (
        "too-short-0123456789",
        "django-insecure-development-only-key-do-not-use-in-production",
    ):
        result = python(SETUP, DEBUG="False", SECRET_KEY=secret, ALLOWED_HOSTS="learn.example.edu")

        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == (
            f"django.core.exceptions.ImproperlyConfigured: {SECRET_MESSAGE}"
        )


def test_debug_off_without_allowed_hosts_refuses_to_start():
    # given DEBUG off and a real secret but no ALLOWED_HOSTS
    result = python(SETUP, DEBUG="False", SECRET_KEY=A_SECRET)

    # then it stops with the ALLOWED_HOSTS message
    assert len(A_SECRET) == 50
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {HOSTS_MESSAGE}"
    )


def test_debug_off_with_secret_key_and_allowed_hosts_starts():
    # given DEBUG off, a real secret and the host names
    env = {
        "DEBUG": "False",
        "SECRET_KEY": A_SECRET,
        "ALLOWED_HOSTS": "learn.example.edu,a.example.edu",
    }

    # when Django starts (all apps loaded)
    result = python(f"{SETUP}; {SHOW}", **env)

    # then it runs, serving hashed, compressed static files
    assert (result.returncode, result.stderr) == (0, "")
    shown = json.loads(result.stdout)
    assert (shown["debug"], shown["hosts"], shown["staticfiles"]) == (
        False,
        ["learn.example.edu", "a.example.edu"],
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    )


def test_defaults_are_the_embedded_set_up():
    # given nothing set
    shown = settings_shown()

    # then SQLite in the project, eager Celery without a broker, the dev server's address
    assert shown == {
        "engine": "django.db.backends.sqlite3",
        "name": str(PROJECT_DIR / "db.sqlite3"),
        "eager": True,
        "broker": "memory://localhost/",
        "debug": True,
        "hosts": ["127.0.0.1", "localhost", "testserver"],
        "staticfiles": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "site": "http://127.0.0.1:8000",
    }


def test_a_broker_turns_eager_celery_off():
    shown = settings_shown(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")

    assert (shown["eager"], shown["broker"]) == (False, "redis://127.0.0.1:6379/0")


def test_database_url_selects_postgresql():
    shown = settings_shown(DATABASE_URL="postgres://user@db.example.edu:5432/contracts")

    assert (shown["engine"], shown["name"]) == ("django.db.backends.postgresql", "contracts")


PG_OPTIONS = "from django.conf import settings as s; print(s.DATABASES['default']['OPTIONS'])"


def test_postgresql_connections_plan_for_ssd_by_default():
    url = "postgres://user@db.example.edu:5432/contracts"

    assert python(SETUP + "; " + PG_OPTIONS, DATABASE_URL=url).stdout == (
        "{'options': '-c random_page_cost=1.1'}\n"
    )
    assert python(
        SETUP + "; " + PG_OPTIONS, DATABASE_URL=url, DATABASE_RANDOM_PAGE_COST="4"
    ).stdout == ("{'options': '-c random_page_cost=4'}\n")


def test_a_random_page_cost_that_is_not_a_positive_number_refuses_to_start():
    for bad in ("abc", "0", "-1", "101"):
        result = python(
            SETUP,
            DATABASE_URL="postgres://user@db.example.edu:5432/contracts",
            DATABASE_RANDOM_PAGE_COST=bad,
        )

        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == (
            "django.core.exceptions.ImproperlyConfigured: DATABASE_RANDOM_PAGE_COST must be a "
            "number above 0 and at most 100 (1.1 suits SSD, 4.0 is PostgreSQL's default for "
            f"spinning disks), not {bad!r}."
        )


def test_commands_keep_the_logs_info_lines_off_the_terminal_unless_verbose():
    import logging

    from main.commands import _log_lines

    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    before = console.level
    with _log_lines(1):
        assert console.level == logging.WARNING
    assert console.level == before
    with _log_lines(2):
        assert console.level == before


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KEYCLOAK_SERVER_URL": "https://sso.example.edu"},
            "SSO is half configured (KEYCLOAK_SERVER_URL set): set KEYCLOAK_REALM, "
            "KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET too, or unset KEYCLOAK_SERVER_URL to keep "
            "SSO off (the README's SSO section).",
        ),
        (
            {"OIDC_DISCOVERY_URL": "https://sso.example.edu/x", "KEYCLOAK_CLIENT_ID": "site"},
            "SSO is half configured (OIDC_DISCOVERY_URL, KEYCLOAK_CLIENT_ID set): set "
            "KEYCLOAK_CLIENT_SECRET too, or unset OIDC_DISCOVERY_URL, KEYCLOAK_CLIENT_ID to keep "
            "SSO off (the README's SSO section).",
        ),
        (
            {
                "OIDC_DISCOVERY_URL": "not-a-url",
                "KEYCLOAK_CLIENT_ID": "a",
                "KEYCLOAK_CLIENT_SECRET": "b",
            },
            "OIDC_DISCOVERY_URL must be an http(s) URL, such as https://sso.example.edu, not "
            "'not-a-url'.",
        ),
        (
            {
                "OIDC_DISCOVERY_URL": "https://a.example",
                "KEYCLOAK_REALM": "r",
                "KEYCLOAK_CLIENT_ID": "a",
                "KEYCLOAK_CLIENT_SECRET": "b",
            },
            "SSO: set either OIDC_DISCOVERY_URL or KEYCLOAK_SERVER_URL + KEYCLOAK_REALM, not both.",
        ),
    ],
)
def test_half_configured_sso_refuses_to_start(env, message):
    result = python(SETUP, **env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {message}"
    )


def test_complete_sso_settings_turn_the_organization_login_on():
    shown = python(
        SETUP + "; from django.conf import settings as s; "
        "print(*s.AUTHENTICATION_BACKENDS, s.SOCIAL_AUTH_SSO_OIDC_ENDPOINT)",
        KEYCLOAK_SERVER_URL="https://sso.example.edu/",
        KEYCLOAK_REALM="learners",
        KEYCLOAK_CLIENT_ID="site",
        KEYCLOAK_CLIENT_SECRET="secret",
    )
    assert (shown.returncode, shown.stdout) == (
        0,
        # the login throttle first (it refuses a locked-out client before any backend)
        "main.security.LoginThrottleBackend main.sso.SSOBackend "
        "django.contrib.auth.backends.ModelBackend https://sso.example.edu/realms/learners\n",
    )
