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
    "DATABASE_SERVER_SIDE_BINDING",
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
    "ORDER_REFERENCE_PREFIX",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID",
    "OPENEDX_SYNC_LEASE",
    "REQUEUE_PENDING_AFTER",
    "CELERY_VISIBILITY_TIMEOUT",
    "CELERY_BEAT_SCHEDULE_FILENAME",
    "EMAIL_URL",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "EMAIL_TIMEOUT",
    "DEFAULT_FROM_EMAIL",
    "SITE_NAME",
    "MAIL_MAX_ATTEMPTS",
    "MAIL_RETRY_BACKOFF",
    "MAIL_RETRY_BACKOFF_MAX",
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


DURABLE = (
    "from django.conf import settings as s; import json; print(json.dumps({"
    "'after': s.REQUEUE_PENDING_AFTER, 'lease': s.OPENEDX_SYNC_LEASE, "
    "'transport': s.CELERY_BROKER_TRANSPORT_OPTIONS, 'beat': s.CELERY_BEAT_SCHEDULE, "
    "'schedule_file': s.CELERY_BEAT_SCHEDULE_FILENAME}))"
)


def test_beat_requeues_lost_work_every_five_minutes_and_redis_redelivers_after_fifteen():
    shown = json.loads(python(DURABLE).stdout)

    every = {"schedule": 300.0, "options": {"expires": 300.0}}
    hourly = {"schedule": 3600.0, "options": {"expires": 3600.0}}
    assert shown == {
        "after": 300.0,
        "lease": 900.0,
        "transport": {"visibility_timeout": 900.0},
        "beat": {
            "contract-alerts": {"task": "b2b.tasks.contract_alerts", **hourly},
            "seats-remind": {"task": "b2b.tasks.seats_remind", **hourly},
            "mail-requeue": {"task": "main.tasks.mail_requeue", **every},
            "codes-adjust-requeue": {"task": "b2b.tasks.codes_adjust_requeue", **every},
            "edx-syncs-requeue": {"task": "openedx.tasks.edx_syncs_requeue", **every},
        },
        "schedule_file": str(PROJECT_DIR / "celerybeat-schedule"),
    }


def test_the_requeue_period_and_the_visibility_timeout_are_settings():
    shown = json.loads(
        python(DURABLE, REQUEUE_PENDING_AFTER="2.5", CELERY_VISIBILITY_TIMEOUT="1800").stdout
    )

    assert (shown["after"], shown["transport"], shown["beat"]["codes-adjust-requeue"]) == (
        2.5,
        {"visibility_timeout": 1800.0},
        {
            "task": "b2b.tasks.codes_adjust_requeue",
            "schedule": 2.5,
            "options": {"expires": 2.5},
        },
    )


@pytest.mark.parametrize(
    "name", ["REQUEUE_PENDING_AFTER", "CELERY_VISIBILITY_TIMEOUT", "OPENEDX_SYNC_LEASE"]
)
def test_a_period_that_is_not_a_positive_number_of_seconds_refuses_to_start(name):
    default = {"REQUEUE_PENDING_AFTER": 300, "CELERY_VISIBILITY_TIMEOUT": 900}.get(name, 900)
    for bad in ("abc", "0", "-5", "inf"):
        result = python(SETUP, **{name: bad})

        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == (
            f"django.core.exceptions.ImproperlyConfigured: {name} must be a positive number of "
            f"seconds (default {default}), not {bad!r}."
        )


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


def test_server_side_binding_also_prepares_statements_run_five_times():
    url = "postgres://user@db.example.edu:5432/contracts"

    shown = python(SETUP + "; " + PG_OPTIONS, DATABASE_URL=url, DATABASE_SERVER_SIDE_BINDING="True")

    assert shown.stdout == (
        "{'options': '-c random_page_cost=1.1', 'server_side_binding': True, "
        "'prepare_threshold': 5}\n"
    )


def test_a_server_side_binding_that_is_not_yes_or_no_refuses_to_start():
    result = python(
        SETUP,
        DATABASE_URL="postgres://user@db.example.edu:5432/contracts",
        DATABASE_SERVER_SIDE_BINDING="maybe",
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DATABASE_SERVER_SIDE_BINDING must be True "
        "or False (default False), not 'maybe'."
    )


PREPARED = (
    "from django.db import connection as c; cur = c.cursor(); "
    "[cur.execute('SELECT %s + 1', [n]) for n in range(6)]; "
    "cur.execute('SELECT statement FROM pg_prepared_statements'); print(cur.fetchall())"
)


@pytest.mark.django_db
def test_with_server_side_binding_postgresql_plans_a_repeated_statement_once():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    ran = [
        python(SETUP + "; " + PREPARED, DATABASE_URL=url, DATABASE_SERVER_SIDE_BINDING=on)
        for on in ("True", "False")
    ]

    assert [(r.returncode, r.stderr, r.stdout) for r in ran] == [
        (0, "", "[('SELECT $1 + 1',)]\n"),
        (0, "", "[]\n"),
    ]


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
        "allauth.account.auth_backends.AuthenticationBackend https://sso.example.edu/realms/learners\n",
    )


KEY_MESSAGE = (
    "may hold only letters, digits, '-' and '_': copy it exactly as the CyberSource Business "
    "Center shows it (Secure Acceptance profile, security keys)."
)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ORDER_REFERENCE_PREFIX": "b2b,decision=ACCEPT"},
            "ORDER_REFERENCE_PREFIX='b2b,decision=ACCEPT' must be 1 to 30 letters, digits, '-' "
            "or '_' (for example b2b or b2b-staging).",
        ),
        (
            {"MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY": "key,decision=ACCEPT"},
            f"MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY {KEY_MESSAGE}",
        ),
        (
            {"MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID": "id=1"},
            f"MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID {KEY_MESSAGE}",
        ),
        (
            {"SITE_BASE_URL": "https://learn.example.edu/a,decision=ACCEPT"},
            "SITE_BASE_URL='https://learn.example.edu/a,decision=ACCEPT' is not a web address: "
            "give the site's base URL, for example https://learn.example.edu.",
        ),
        (
            {"SITE_BASE_URL": "https://learn.example.edu/?next=x"},
            "SITE_BASE_URL='https://learn.example.edu/?next=x' is not a web address: give the "
            "site's base URL, for example https://learn.example.edu.",
        ),
    ],
    ids=["reference prefix", "access key", "profile id", "site base url", "site query"],
)
def test_a_value_signed_into_payment_forms_with_a_separator_refuses_to_start(env, message):
    # given a setting that reaches the gateway's signed fields holding "," or "="
    result = python(SETUP, **env)

    # then Django does not start, naming the setting
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {message}"
    )


def test_well_formed_payment_settings_start():
    shown = python(
        SETUP + "; from django.conf import settings as s; print(s.ORDER_REFERENCE_PREFIX)",
        ORDER_REFERENCE_PREFIX="b2b-staging_2",
        MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY="0123456789abcdef0123456789abcdef",
        MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID="465A8696-4412-42D1-A653-D12796182F06",
        SITE_BASE_URL="https://learn.example.edu/b2b/",
    )
    assert (shown.returncode, shown.stdout) == (0, "b2b-staging_2\n")


MAIL = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k, None) for k in ('EMAIL_BACKEND', 'EMAIL_FILE_PATH', "
    "'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', "
    "'EMAIL_USE_SSL', 'EMAIL_TIMEOUT', 'DEFAULT_FROM_EMAIL', 'ANYMAIL')}))"
)


def mail_settings(**env: str) -> dict:
    result = python(MAIL, **env)
    assert (result.returncode, result.stderr) == (0, "")
    return json.loads(result.stdout)


def test_mail_is_written_to_sent_mail_by_default():
    shown = mail_settings()
    assert {k: shown[k] for k in ("EMAIL_BACKEND", "EMAIL_FILE_PATH", "DEFAULT_FROM_EMAIL")} == {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(PROJECT_DIR / "sent-mail"),
        "DEFAULT_FROM_EMAIL": "Learning <no-reply@localhost>",
    }
    assert (shown["EMAIL_TIMEOUT"], shown["ANYMAIL"]) == (30, {})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp+tls://mailer:p%40ss@mail.example.edu:587",
            ["mail.example.edu", 587, "mailer", "p@ss", True, False],
        ),
        ("smtp+ssl://mail.example.edu:465", ["mail.example.edu", 465, "", "", False, True]),
        ("smtp://127.0.0.1", ["127.0.0.1", 25, "", "", False, False]),
    ],
    ids=["starttls", "tls", "plain"],
)
def test_email_url_configures_smtp(url, expected):
    shown = mail_settings(EMAIL_URL=url)
    assert shown["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert [
        shown[k]
        for k in (
            "EMAIL_HOST",
            "EMAIL_PORT",
            "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD",
            "EMAIL_USE_TLS",
            "EMAIL_USE_SSL",
        )
    ] == expected


def test_a_provider_through_django_anymail_takes_its_settings_from_anymail_variables():
    shown = mail_settings(
        EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
        ANYMAIL_MAILGUN_API_KEY="key-123",
        ANYMAIL_MAILGUN_SENDER_DOMAIN="mg.example.edu",
        DEFAULT_FROM_EMAIL="Learning <learn@mg.example.edu>",
    )
    assert (shown["EMAIL_BACKEND"], shown["ANYMAIL"], shown["DEFAULT_FROM_EMAIL"]) == (
        "anymail.backends.mailgun.EmailBackend",
        {"MAILGUN_API_KEY": "key-123", "MAILGUN_SENDER_DOMAIN": "mg.example.edu"},
        "Learning <learn@mg.example.edu>",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EMAIL_URL": "mail.example.edu"},
            "EMAIL_URL must be an SMTP server's URL: smtp://USER:PASSWORD@HOST:PORT, "
            "smtp+tls://... (STARTTLS) or smtp+ssl://... (TLS); for another backend set "
            "EMAIL_BACKEND instead.",
        ),
        (
            {"EMAIL_URL": "smtp://mail.example.edu", "EMAIL_BACKEND": "x.EmailBackend"},
            "Set either EMAIL_URL (an SMTP server) or EMAIL_BACKEND (another backend), not both.",
        ),
        (
            {"MAIL_MAX_ATTEMPTS": "0"},
            "MAIL_MAX_ATTEMPTS must be at least 1, MAIL_RETRY_BACKOFF above 0 (seconds) and "
            "MAIL_RETRY_BACKOFF_MAX at least MAIL_RETRY_BACKOFF (defaults: 8, 60, 3600).",
        ),
    ],
    ids=["not-a-url", "both", "attempts"],
)
def test_wrong_mail_settings_stop_the_start_saying_what_to_set(env, message):
    result = python(SETUP, **env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {message}"
    )
