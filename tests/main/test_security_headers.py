"""The headers a browser is given: a Content-Security-Policy on every page, HSTS and secure cookies
when the site is served over HTTPS, the proxy's headers trusted only when a setting says so, and
``check --deploy`` silent on the production settings of ``docker-compose.yml``."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.main.test_settings import A_SECRET, PROJECT_DIR, python

pytestmark = pytest.mark.django_db

NONCE = re.compile(r'<(?:style|script) nonce="([A-Za-z0-9+/=]{24})">')


def policy(nonce: str, *form_targets: str) -> dict[str, list[str]]:
    """The expected policy, directive by directive (the header lists them in no fixed order)."""
    return {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", *form_targets],
    }


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        assert name not in parsed
        parsed[name] = values
    return parsed


def nonces(response) -> set[str]:
    return set(NONCE.findall(response.content.decode()))


def test_every_learner_page_has_the_policy_and_its_own_nonce(client, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    anonymous = [client.get("/login/"), client.get("/")]
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    pages = [*anonymous, client.get("/cart/"), client.get("/dashboard/")]

    seen = set()
    for page in pages:
        assert page.status_code == 200
        (nonce,) = nonces(page)  # one nonce a page, on its <style> and its <script>
        assert directives(page["Content-Security-Policy"]) == policy(nonce)
        seen.add(nonce)
    assert len(seen) == len(pages)  # a fresh nonce every response
    cart = pages[2].content.decode()
    assert 'style="' not in cart and " onclick=" not in cart
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"


def test_the_payment_page_alone_may_post_to_the_gateway(client, payments, make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=3, price="100")
    client.force_login(learner)
    client.get(f"/cart/add/?product_id={offer.product.pk}")
    client.post("/cart/code/", {"code": offer.codes[0]})

    page = client.post("/checkout/")

    assert page.templates[0].name == "ecommerce/payment_redirect.html"
    (nonce,) = nonces(page)
    assert directives(page["Content-Security-Policy"]) == policy(
        nonce, "https://testsecureacceptance.cybersource.com"
    )
    assert (
        "https://testsecureacceptance.cybersource.com"
        not in client.get("/cart/")["Content-Security-Policy"]
    )


def test_with_sso_on_forms_may_lead_to_the_provider(client, settings):
    settings.AUTHENTICATION_BACKENDS = [
        "main.security.LoginThrottleBackend",
        "main.sso.SSOBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.SOCIAL_AUTH_SSO_OIDC_ENDPOINT = "https://sso.example.org/realms/learners"
    settings.SOCIAL_AUTH_SSO_KEY = "b2b-contracts"

    page = client.get("/login/")

    (nonce,) = nonces(page)
    assert directives(page["Content-Security-Policy"]) == policy(nonce, "https://sso.example.org")


# -- HTTPS ---------------------------------------------------------------------------------------

HTTPS_SITE = {
    "DEBUG": "False",
    "SECRET_KEY": A_SECRET,
    "ALLOWED_HOSTS": "learn.example.edu",
    "SITE_BASE_URL": "https://learn.example.edu",
}
SECURITY_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n, None) "
    "for n in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
    "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
    "'SECURE_PROXY_SSL_HEADER', 'TRUSTED_PROXIES')}))"
)


def security_settings(**env: str) -> dict:
    result = python(f"import django; django.setup(); {SECURITY_SETTINGS}", **env)
    assert (result.returncode, result.stderr) == (0, "")
    return json.loads(result.stdout)


def test_an_https_site_gets_hsts_and_secure_cookies_and_no_proxy_trust_by_default():
    assert security_settings(**HTTPS_SITE) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "TRUSTED_PROXIES": 0,
    }


def test_a_plain_http_site_gets_neither_and_a_proxy_is_trusted_only_when_counted():
    plain = {**HTTPS_SITE, "SITE_BASE_URL": "http://127.0.0.1:8040"}
    assert security_settings(**plain) == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "TRUSTED_PROXIES": 0,
    }
    shown = security_settings(**HTTPS_SITE, TRUSTED_PROXIES="1")
    assert (shown["SECURE_PROXY_SSL_HEADER"], shown["TRUSTED_PROXIES"]) == (
        ["HTTP_X_FORWARDED_PROTO", "https"],
        1,
    )


REQUESTS = """
import django, json; django.setup()
from django.test import Client
client = Client(HTTP_HOST="learn.example.edu")
out = {}
plain = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
out["plain"] = [plain.status_code, plain.get("Location")]
secure = client.get("/login/", secure=True)
out["secure"] = [
    secure.status_code,
    secure.get("Strict-Transport-Security"),
    secure.cookies["csrftoken"]["secure"],
    "upgrade-insecure-requests" in secure["Content-Security-Policy"],
]
print(json.dumps(out))
"""


def test_over_https_the_site_redirects_plain_http_and_sends_hsts(tmp_path):
    env = {**HTTPS_SITE, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    direct = python(REQUESTS, **env)
    proxied = python(REQUESTS, **env, TRUSTED_PROXIES="1")

    assert (direct.returncode, proxied.returncode) == (0, 0), direct.stderr + proxied.stderr
    # Without a trusted proxy a client's X-Forwarded-Proto is ignored: plain HTTP is redirected.
    assert json.loads(direct.stdout) == {
        "plain": [301, "https://learn.example.edu/login/"],
        "secure": [200, "max-age=31536000; includeSubDomains", True, True],
    }
    # Behind one, the proxy's X-Forwarded-Proto says the request came over HTTPS.
    assert json.loads(proxied.stdout)["plain"] == [200, None]


# -- check --deploy ------------------------------------------------------------------------------


def compose_environment(**given: str) -> dict[str, str]:
    """The web service's environment in docker-compose.yml, with ``${NAME:?...}`` taken from
    ``given`` (missing: an error, as compose says) and ``${NAME:-default}`` defaulted."""
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    environment = compose["services"]["web"]["environment"]

    def resolve(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in given:
            return given[name]
        assert op == ":-", f"docker-compose.yml requires {name}"
        return rest

    pattern = re.compile(r"\$\{([A-Z_]+)(?:(:[-?])([^}]*))?\}")
    return {key: pattern.sub(resolve, str(value)) for key, value in environment.items()}


def test_docker_compose_is_secure_by_default_and_check_deploy_reports_nothing():
    env = compose_environment(
        SECRET_KEY=A_SECRET,
        SITE_BASE_URL="https://learn.example.edu",
        ALLOWED_HOSTS="learn.example.edu",
        POSTGRES_PASSWORD="a-random-password",
    )
    assert {k: env[k] for k in ("DEBUG", "TRUSTED_PROXIES", "CACHE_URL")} == {
        "DEBUG": "False",
        "TRUSTED_PROXIES": "1",
        "CACHE_URL": "redis://redis:6379/1",
    }
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in compose["services"]["db"] and "ports" not in compose["services"]["redis"]

    result = python_manage(["check", "--deploy"], env)

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (1 silenced).\n",
        "",
    )


def test_check_deploy_speaks_up_for_a_plain_http_production_site():
    env = {**HTTPS_SITE, "SITE_BASE_URL": "http://learn.example.edu"}

    result = python_manage(["check", "--deploy"], env)

    ids = sorted(set(re.findall(r"\(security\.(W\d+)\)", result.stderr)))
    assert ids == ["W004", "W008", "W012", "W016"]


def python_manage(argv: list[str], env: dict[str, str]):
    code = "import sys; from django.core.management import execute_from_command_line; " + (
        f"execute_from_command_line(['manage.py', *{argv!r}])"
    )
    return python(code, **env)


def test_the_cache_is_redis_when_cache_url_names_it():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.CACHES['default']['LOCATION'])"
    )
    assert python(code).stdout == "django.core.cache.backends.locmem.LocMemCache \n"
    assert python(code, CACHE_URL="redis://127.0.0.1:6379/1").stdout.split()[1] == (
        "redis://127.0.0.1:6379/1"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CODE_ATTEMPTS_PER_LEARNER",
            "ten a minute",
            "CODE_ATTEMPTS_PER_LEARNER='ten a minute' is not a rate: give attempts per period, "
            "such as 10/minute or 100/hour (or leave it empty for no limit).",
        ),
        (
            "TRUSTED_PROXIES",
            "-1",
            "TRUSTED_PROXIES must be 0 (no proxy) or the number of reverse proxies in front of "
            "the site, not -1.",
        ),
    ],
)
def test_a_malformed_limit_or_proxy_count_stops_the_start(name, value, message):
    result = python("import django; django.setup()", **{name: value})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {message}"
    )
