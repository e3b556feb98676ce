"""Accounts (django-allauth), outgoing mail, the SSO login, the cache, and the limits on code
attempts and logins (README "Accounts and mail", "SSO", "Limits and headers")."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from main.settings.core import BASE_DIR, env

# -- Accounts (django-allauth): sign-up with mandatory email verification, login by email (or an
# existing username), password reset, email change with re-verification. Login lands on My
# courses; logout on the login page. Staff keep Wagtail's (/cms/) and Django's (/admin/) logins.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/login/"
ACCOUNT_ADAPTER = "main.accounts.AccountAdapter"
ACCOUNT_FORMS = {
    "signup": "main.forms.SignupForm",
    "reset_password": "main.forms.ResetPasswordForm",
    "reset_password_from_key": "main.forms.ResetPasswordKeyForm",
    "change_password": "main.forms.ChangePasswordForm",
    "set_password": "main.forms.SetPasswordForm",
    "add_email": "main.forms.AddEmailForm",
}
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True  # one address; a new one replaces it once verified
ACCOUNT_EMAIL_NOTIFICATIONS = True  # "your password / email was changed" to the account's address
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # verified in the browser that signed up: logged in
ACCOUNT_LOGOUT_ON_GET = False  # the header's Log out is a POST; a GET asks first
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed logins are counted once, by django-axes at the authentication backend (LOGIN_FAILURE_LIMIT,
# LOGIN_COOLOFF_MINUTES: README "Limits and headers"), for every login form alike; allauth's own
# count of failed logins is off so the two never disagree about when a learner is held.
ACCOUNT_RATE_LIMITS = {"login_failed": None}

# -- Outgoing mail (main.mail, SPEC §9): every mail is a row, rendered at once from its templates,
# sent after commit by a Celery task through Django's email backend, retried with exponential
# backoff. Default: the file backend, one file per mail in sent-mail/ (readable in any editor).
# EMAIL_URL configures SMTP (smtp://user:password@host:587, smtp+tls://..., smtp+ssl://...);
# EMAIL_BACKEND names any backend, e.g. anymail.backends.mailgun.EmailBackend, with its settings
# as ANYMAIL_* variables (ANYMAIL_MAILGUN_API_KEY=... becomes ANYMAIL["MAILGUN_API_KEY"]).
SITE_NAME = env.str("SITE_NAME", default="Learning")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <no-reply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    if env.str("EMAIL_BACKEND", default=""):
        raise ImproperlyConfigured(
            "Set either EMAIL_URL (an SMTP server) or EMAIL_BACKEND (another backend), not both."
        )
    if urlsplit(_email_url).scheme not in ("smtp", "smtps", "smtp+tls", "smtp+ssl") or not (
        urlsplit(_email_url).hostname
    ):
        raise ImproperlyConfigured(
            "EMAIL_URL must be an SMTP server's URL: smtp://USER:PASSWORD@HOST:PORT, "
            "smtp+tls://... (STARTTLS) or smtp+ssl://... (TLS); for another backend set "
            "EMAIL_BACKEND instead."
        )
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"] or 25
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend"
    )
# Seconds a send may take before it counts as failed (and is retried); Django's default waits
# forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in env.ENVIRON.items()
    if name.startswith("ANYMAIL_")
}
# A failed send is tried again after MAIL_RETRY_BACKOFF * 2**(n-1) seconds (n = attempts so far),
# at most MAIL_RETRY_BACKOFF_MAX, until MAIL_MAX_ATTEMPTS attempts; then the mail is failed.
MAIL_MAX_ATTEMPTS = env.int("MAIL_MAX_ATTEMPTS", default=8)
MAIL_RETRY_BACKOFF = env.float("MAIL_RETRY_BACKOFF", default=60.0)
MAIL_RETRY_BACKOFF_MAX = env.float("MAIL_RETRY_BACKOFF_MAX", default=3600.0)
if MAIL_MAX_ATTEMPTS < 1 or MAIL_RETRY_BACKOFF <= 0 or MAIL_RETRY_BACKOFF_MAX < MAIL_RETRY_BACKOFF:
    raise ImproperlyConfigured(
        "MAIL_MAX_ATTEMPTS must be at least 1, MAIL_RETRY_BACKOFF above 0 (seconds) and "
        "MAIL_RETRY_BACKOFF_MAX at least MAIL_RETRY_BACKOFF (defaults: 8, 60, 3600)."
    )

# -- SSO: OpenID Connect login through Keycloak (SPEC §6, §8), off unless configured -----------
# Either a Keycloak realm (KEYCLOAK_SERVER_URL + KEYCLOAK_REALM) or any provider's discovery
# document (OIDC_DISCOVERY_URL), plus the client's ID and secret. social-auth-app-django's
# OpenID Connect backend verifies the ID token: signature with the provider's JWKS, issuer,
# audience, expiry and nonce.
KEYCLOAK_SERVER_URL = env.str("KEYCLOAK_SERVER_URL", default="").rstrip("/")
KEYCLOAK_REALM = env.str("KEYCLOAK_REALM", default="")
KEYCLOAK_CLIENT_ID = env.str("KEYCLOAK_CLIENT_ID", default="")
KEYCLOAK_CLIENT_SECRET = env.str("KEYCLOAK_CLIENT_SECRET", default="")
OIDC_DISCOVERY_URL = env.str("OIDC_DISCOVERY_URL", default="")
# Keycloak 26 returns every organization of the user for the scope ``organization:*``.
SSO_SCOPES = env.list("SSO_SCOPES", default=["organization:*"])

_sso_given = [
    name
    for name, value in (
        ("KEYCLOAK_SERVER_URL", KEYCLOAK_SERVER_URL),
        ("KEYCLOAK_REALM", KEYCLOAK_REALM),
        ("OIDC_DISCOVERY_URL", OIDC_DISCOVERY_URL),
        ("KEYCLOAK_CLIENT_ID", KEYCLOAK_CLIENT_ID),
        ("KEYCLOAK_CLIENT_SECRET", KEYCLOAK_CLIENT_SECRET),
    )
    if value
]
if _sso_given:  # SSO is all or nothing: a half-set configuration stops the start, saying why
    if OIDC_DISCOVERY_URL and (KEYCLOAK_SERVER_URL or KEYCLOAK_REALM):
        raise ImproperlyConfigured(
            "SSO: set either OIDC_DISCOVERY_URL or KEYCLOAK_SERVER_URL + KEYCLOAK_REALM, not both."
        )
    _sso_missing = [
        name
        for name, value in (
            (("OIDC_DISCOVERY_URL", OIDC_DISCOVERY_URL),)
            if OIDC_DISCOVERY_URL
            else (("KEYCLOAK_SERVER_URL", KEYCLOAK_SERVER_URL), ("KEYCLOAK_REALM", KEYCLOAK_REALM))
        )
        + (
            ("KEYCLOAK_CLIENT_ID", KEYCLOAK_CLIENT_ID),
            ("KEYCLOAK_CLIENT_SECRET", KEYCLOAK_CLIENT_SECRET),
        )
        if not value
    ]
    if _sso_missing:
        raise ImproperlyConfigured(
            f"SSO is half configured ({', '.join(_sso_given)} set): set {', '.join(_sso_missing)} "
            f"too, or unset {', '.join(_sso_given)} to keep SSO off (the README's SSO section)."
        )
    for _name, _url in (
        ("OIDC_DISCOVERY_URL", OIDC_DISCOVERY_URL),
        ("KEYCLOAK_SERVER_URL", KEYCLOAK_SERVER_URL),
    ):
        if _url and not re.match(r"^https?://[^/\s]+", _url):
            raise ImproperlyConfigured(
                f"{_name} must be an http(s) URL, such as https://sso.example.edu, not {_url!r}."
            )

AUTHENTICATION_BACKENDS = [
    # The login throttle first: a locked-out client is refused before any password is checked.
    "main.security.LoginThrottleBackend",
    # allauth's backend is Django's ModelBackend that also finds a user by email.
    "allauth.account.auth_backends.AuthenticationBackend",
]
SOCIAL_AUTH_SSO_OIDC_ENDPOINT = (
    OIDC_DISCOVERY_URL.removesuffix("/.well-known/openid-configuration").rstrip("/")
    if OIDC_DISCOVERY_URL
    else (
        f"{KEYCLOAK_SERVER_URL}/realms/{KEYCLOAK_REALM}"
        if KEYCLOAK_SERVER_URL and KEYCLOAK_REALM
        else ""
    )
)
SOCIAL_AUTH_SSO_KEY = KEYCLOAK_CLIENT_ID
SOCIAL_AUTH_SSO_SECRET = KEYCLOAK_CLIENT_SECRET
SOCIAL_AUTH_SSO_SCOPE = SSO_SCOPES
SOCIAL_AUTH_SSO_USE_PKCE = True
if SOCIAL_AUTH_SSO_OIDC_ENDPOINT and SOCIAL_AUTH_SSO_KEY:
    AUTHENTICATION_BACKENDS.insert(1, "main.sso.SSOBackend")
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/dashboard/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/login/"
SOCIAL_AUTH_RAISE_EXCEPTIONS = False
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    # The provider's stable subject first, then a verified email, else a new user (issue 7).
    "social_core.pipeline.social_auth.social_user",
    "main.sso.user_by_verified_email",
    "main.sso.user_create",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "main.sso.user_refresh",
    "main.sso.email_record",
    "b2b.sso_pipeline.contracts_sync",
)

# -- the cache: rate limits and the login throttle ----------------------------------------------
# CACHE_URL names a shared cache (redis://HOST:6379/1) that every web process counts in; unset,
# each process counts in its own memory (fine for one process, as `make run` is).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# -- limits (README "Security") ----------------------------------------------------------------
# Applying enrollment codes, on the cart page and in the API (ecommerce.throttles): attempts per
# learner and per client address, as "<number>/<second|minute|hour|day>"; empty for no limit.
CODE_ATTEMPTS_PER_LEARNER = env.str("CODE_ATTEMPTS_PER_LEARNER", default="10/minute")
CODE_ATTEMPTS_PER_ADDRESS = env.str("CODE_ATTEMPTS_PER_ADDRESS", default="60/minute")
for _name, _rate in (
    ("CODE_ATTEMPTS_PER_LEARNER", CODE_ATTEMPTS_PER_LEARNER),
    ("CODE_ATTEMPTS_PER_ADDRESS", CODE_ATTEMPTS_PER_ADDRESS),
):
    if _rate and not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(
            f"{_name}={_rate!r} is not a rate: give attempts per period, such as 10/minute or "
            "100/hour (or leave it empty for no limit)."
        )
# Password logins (django-axes, at the authentication-backend level: every login form): after
# LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is refused for
# LOGIN_COOLOFF_MINUTES (each further attempt starts the wait again); a success clears the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are recorded; successful logins are not
AXES_CLIENT_IP_CALLABLE = "main.security.client_ip"
AXES_USERNAME_CALLABLE = "main.security.login_identifier"
AXES_LOCKOUT_CALLABLE = "main.security.login_locked_out"
