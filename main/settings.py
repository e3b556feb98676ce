"""Settings, read from the environment with working defaults (SPEC §3).

With nothing set, the project runs embedded: a SQLite file in the project, Celery tasks run eagerly
in process after commit, every integration off, ``SITE_BASE_URL`` the dev server's address. A
``.env`` file in the project root is read if present. With ``DEBUG`` off, a real ``SECRET_KEY`` and
``ALLOWED_HOSTS`` are required and the process refuses to start without them.
"""

import re
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# The placeholder is only ever accepted with DEBUG on.
INSECURE_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)

if not DEBUG:
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "DEBUG is off, so SECRET_KEY must be set to a real secret of at least 32 characters "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG is off, so ALLOWED_HOSTS must list the host names this site is served on "
            "(comma-separated, for example ALLOWED_HOSTS=learn.example.edu)."
        )

SITE_BASE_URL = env.str("SITE_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_BASE_URL)
if (
    _site.scheme not in ("http", "https")
    or not _site.netloc
    or _site.query
    or _site.fragment
    or re.search(r"[,=\s]", SITE_BASE_URL)  # the payment callbacks are signed into the form
):
    raise ImproperlyConfigured(
        f"SITE_BASE_URL={SITE_BASE_URL!r} is not a web address: give the site's base URL, "
        "for example https://learn.example.edu."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_BASE_URL])

# -- HTTPS, proxies and security headers (README "Security") ---------------------------------
# The site is served over HTTPS when SITE_BASE_URL says https://: then cookies are sent over
# HTTPS only, plain HTTP is redirected and browsers are told to use HTTPS alone (HSTS).
SITE_HTTPS = urlsplit(SITE_BASE_URL).scheme == "https"
# How many reverse proxies stand in front of the site, each setting X-Forwarded-For and
# X-Forwarded-Proto. 0 (the default): none, and those headers are ignored (a client could write
# them); the client's address is REMOTE_ADDR and a request is secure only over HTTPS itself.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES must be 0 (no proxy) or the number of reverse proxies in front of the "
        f"site, not {TRUSTED_PROXIES}."
    )
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SITE_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SITE_HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SITE_HTTPS)
# HSTS: one year, this host and its subdomains. Preloading (SECURE_HSTS_PRELOAD=True) commits
# the whole registered domain to HTTPS in every browser; the domain's owner opts in.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SITE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SITE_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # `check --deploy` asks for preloading (security.W021): a choice for the domain's owner.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Wagtail's contrib apps the product does not use (forms, redirects, embeds, snippets) are
    # not installed: each one's start-up imports cost every process, every command (``make
    # bench-commands``). Images stay (an organization's logo is one), and documents (the page
    # editor's admin API needs it).
    "wagtail.sites",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "social_django",
    "axes",
    "csp",
    "mitol.common",
    "mitol.payment_gateway",
    "main",
    "courses",
    "ecommerce",
    "openedx",
    "b2b",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise serves /static/ in every mode: the collected files with DEBUG off, the apps' own
    # files (found as runserver's finders find them, re-read when they change) with DEBUG on.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Content-Security-Policy header (and the nonce of the pages' own <script>/<style>).
    "main.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "main.actors.ActorMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A refused SSO login (bad state, token or nonce) returns to the login page with a message.
    "social_django.middleware.SocialAuthExceptionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The login throttle's refusal page (django-axes; last, as its documentation says).
    "axes.middleware.AxesMiddleware",
]

WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

ROOT_URLCONF = "main.urls"
WSGI_APPLICATION = "main.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "main" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "main.context_processors.sso",
            ],
        },
    },
]

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown scheme is reported below, in one line
        DATABASES = {
            "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        }
except (KeyError, ValueError) as exc:
    DATABASES = {"default": {}}
    _database_error: Exception | None = exc
else:
    _database_error = None
if _database_error is not None or not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not a database URL: use postgres://USER@HOST:PORT/NAME or "
        "sqlite:////absolute/path/db.sqlite3 (unset, the project uses db.sqlite3 in its folder)."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a competing writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    # Take the write lock when a transaction begins, so a second writer waits for it (up to the
    # timeout) instead of failing at once with "database is locked" when it tries to upgrade.
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The planner's cost of a random page read. PostgreSQL's default (4.0) is a spinning disk's:
    # on SSD it makes the planner scan a 500,000-code table where one product's codes are a
    # few thousand index probes away (b2b/services/codes/rule.py). Sent once, at connection.
    _page_cost = env.str("DATABASE_RANDOM_PAGE_COST", default="1.1")
    try:
        if not 0 < float(_page_cost) <= 100:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_RANDOM_PAGE_COST must be a number above 0 and at most 100 (1.1 suits SSD, "
            f"4.0 is PostgreSQL's default for spinning disks), not {_page_cost!r}."
        ) from None
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c random_page_cost={_page_cost}".strip()
    # Server-side binding (psycopg 3): parameters travel apart from the SQL, and a statement the
    # connection has run 5 times is prepared once and then only executed, skipping PostgreSQL's
    # parsing and planning (README "Settings"; on the checkout's locked statements it shortens
    # the contract lock). Off by default: behind PgBouncer in transaction mode a prepared
    # statement may be missing on the server connection the next transaction gets (PgBouncer
    # 1.21+ with max_prepared_statements set supports them).
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=False):
        _options["server_side_binding"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "main.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
if TIME_ZONE not in available_timezones():
    raise ImproperlyConfigured(
        f"TIME_ZONE={TIME_ZONE!r} is not a time zone name: use an IANA name such as UTC or "
        "America/New_York."
    )
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

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

# Celery: no broker means eager, in-process execution (tasks are still queued on commit).
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
# An eager app never talks to its broker; "memory://" keeps kombu from looking for one.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
# The queue tasks go to and workers read (one per deployment, or per test run sharing a broker).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Periodic work, run by Celery beat (``make worker`` starts it with the worker): each job is
# idempotent, so a beat that fires twice changes nothing more.


def _seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment, or a one-line refusal to start."""
    raw = env.str(name, default=str(default))
    try:
        value = float(raw)
        if not 0 < value < float("inf"):
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a positive number of seconds (default {default:g}), not {raw!r}."
        ) from None
    return value


# Durable intent (ARCHITECTURE rule 12; the README's "After a crash"). A change that needs
# follow-up work records it in its own transaction (a code adjustment's marker, a run's or an
# enrollment's edx_status pending); Celery beat runs the re-queue tasks every
# REQUEUE_PENDING_AFTER seconds, and they queue again what has waited longer than that. b2b_check
# reports a code adjustment pending longer than that. Each re-queued message expires after one
# period, so a stopped worker does not come back to a pile of copies.
REQUEUE_PENDING_AFTER = _seconds("REQUEUE_PENDING_AFTER", 300)
# Seats assigned by email (SPEC §9): an unused seat's invitation is sent again after
# SEAT_REMINDER_AFTER_DAYS days, at most SEAT_REMINDER_MAX times; beat looks every
# SEAT_REMINDER_EVERY seconds (hourly by default).
SEAT_REMINDER_AFTER_DAYS = env.int("SEAT_REMINDER_AFTER_DAYS", default=3)
SEAT_REMINDER_MAX = env.int("SEAT_REMINDER_MAX", default=2)
SEAT_REMINDER_EVERY = _seconds("SEAT_REMINDER_EVERY", 3600)
# Staff addresses that get every contract's seat and end-date alerts, besides its managers.
B2B_ALERT_EMAILS = env.list("B2B_ALERT_EMAILS", default=[])
CONTRACT_ALERTS_EVERY = _seconds("CONTRACT_ALERTS_EVERY", 3600)
CELERY_BEAT_SCHEDULE = {
    "contract-alerts": {
        "task": "b2b.tasks.contract_alerts",
        "schedule": CONTRACT_ALERTS_EVERY,
        "options": {"expires": CONTRACT_ALERTS_EVERY},
    },
    "seats-remind": {
        "task": "b2b.tasks.seats_remind",
        "schedule": SEAT_REMINDER_EVERY,
        "options": {"expires": SEAT_REMINDER_EVERY},
    },
    # Mails whose task was lost (a broker or a process down after the commit) or is overdue.
    "mail-requeue": {
        "task": "main.tasks.mail_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
    "codes-adjust-requeue": {
        "task": "b2b.tasks.codes_adjust_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
    "edx-syncs-requeue": {
        "task": "openedx.tasks.edx_syncs_requeue",
        "schedule": REQUEUE_PENDING_AFTER,
        "options": {"expires": REQUEUE_PENDING_AFTER},
    },
}
# Where beat keeps the time of each entry's last run (`make worker` runs beat with the worker).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / "celerybeat-schedule")
)
# Redis: a message a worker took but never acknowledged (acks_late: the worker died) goes back to
# the queue after this many seconds. It must outlast the longest task, or a second worker starts
# it while the first still runs (harmless, the tasks are idempotent, but wasted). The longest is
# the adjustment of the largest contract: 100,000 learners × 50 courses = 5,000,000 codes; at the
# measured 15 s per 500,000 codes generated (`make bench`) that is about 150 s, plus as much again
# for a second delivery waiting on the contract's code lock. 900 s leaves three times that and
# covers the longest retry countdown (300 s). Beat re-queues lost adjustments sooner anyway.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _seconds("CELERY_VISIBILITY_TIMEOUT", 900),
}

# Wagtail
WAGTAIL_SITE_NAME = "B2B contracts"
WAGTAILADMIN_BASE_URL = SITE_BASE_URL
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "pdf", "pptx", "txt", "xlsx"]
# No autosave: a contract page's draft is saved when staff press Save draft or Publish. (A page
# never published keeps its draft in its own row, which is what commands and checkout read: an
# autosave would put a half-typed contract in force.)
WAGTAIL_AUTOSAVE_INTERVAL = 0
# The admin asks no third party anything: no Gravatar images (they would send a hash of each
# staff member's email), no check for new Wagtail releases. Both would break the admin's
# Content-Security-Policy too.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAIL_ENABLE_UPDATE_CHECK = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's parsers, with a JSON body nested too deep refused as a 400 (not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "main.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Every API refusal is {"code", "message"} (main.api), the catalog's 404s included.
    "EXCEPTION_HANDLER": "main.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "B2B contracts API",
    "DESCRIPTION": (
        "The learner's basket, checkout, orders and enrollments, and the public catalog. "
        "Session authentication: unsafe methods need the CSRF token (X-CSRFToken header). "
        'Refusals are 4xx responses {"code": "<stable code>", "message": "<what to do>"}.'
    ),
    "VERSION": "v0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["main.api.api_paths_only"],
}

# Payments (SPEC §5, §8): CyberSource Secure Acceptance, signed with mitol-django-payment-gateway.
# Off unless the access key, the profile ID and the security key are all set; a priced checkout
# then refuses with ``payments-not-configured`` and nothing is consumed.
ECOMMERCE_DEFAULT_PAYMENT_GATEWAY = "CyberSource"
MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY = env.str(
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY", default=""
)
MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID = env.str(
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID", default=""
)
MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURITY_KEY = env.str(
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURITY_KEY", default=""
)
MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL = env.str(
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL",
    default="https://testsecureacceptance.cybersource.com/pay",
)
# Orders are known to the gateway as "<prefix>-<order id>"; give each deployment its own prefix
# when several share one CyberSource profile.
ORDER_REFERENCE_PREFIX = env.str("ORDER_REFERENCE_PREFIX", default="b2b")
# These values are signed into every payment form as they are: a "," or "=" in one would let the
# signed text be read as other fields (README "Security"), so they are checked here.
if not re.fullmatch(r"[A-Za-z0-9_-]{1,30}", ORDER_REFERENCE_PREFIX, re.ASCII):
    raise ImproperlyConfigured(
        f"ORDER_REFERENCE_PREFIX={ORDER_REFERENCE_PREFIX!r} must be 1 to 30 letters, digits, "
        "'-' or '_' (for example b2b or b2b-staging)."
    )
for _name in (
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY",
    "MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID",
):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", globals()[_name], re.ASCII):
        raise ImproperlyConfigured(
            f"{_name} may hold only letters, digits, '-' and '_': copy it exactly as the "
            "CyberSource Business Center shows it (Secure Acceptance profile, security keys)."
        )

# -- Content-Security-Policy (django-csp) ------------------------------------------------------
# Scripts and styles from this site, or inline with the page's nonce ({{ request.csp_nonce }});
# forms post to this site, plus the payment gateway and the SSO provider when configured
# (main.security.ContentSecurityPolicyMiddleware adds them); the site is never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        **({"upgrade-insecure-requests": True} if SITE_HTTPS else {}),
    },
}

# Open edX (SPEC §8): off unless all four are set.
OPENEDX_API_BASE_URL = env.str("OPENEDX_API_BASE_URL", default="").rstrip("/")
OPENEDX_STUDIO_API_BASE_URL = env.str("OPENEDX_STUDIO_API_BASE_URL", default="").rstrip("/")
# Where learners open their courses (My courses' "Go to course"): the LMS's public address, which
# may differ from the API's. Unset: OPENEDX_API_BASE_URL; both unset: no link is shown.
OPENEDX_LMS_URL = env.str("OPENEDX_LMS_URL", default=OPENEDX_API_BASE_URL).rstrip("/")
OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID = env.str(
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID", default=""
)
OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET = env.str(
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET", default=""
)
# Seconds to wait for a connection, and for an answer (a Studio clone copies the whole course).
OPENEDX_CONNECT_TIMEOUT = env.float("OPENEDX_CONNECT_TIMEOUT", default=5.0)
OPENEDX_READ_TIMEOUT = env.float("OPENEDX_READ_TIMEOUT", default=60.0)
# Timeouts, connection errors and 5xx answers are tried this many times in all, waiting
# BACKOFF * 2**(n-1) seconds plus up to BACKOFF seconds of jitter, at most BACKOFF_MAX, in between.
OPENEDX_RETRY_ATTEMPTS = env.int("OPENEDX_RETRY_ATTEMPTS", default=5)
OPENEDX_RETRY_BACKOFF = env.float("OPENEDX_RETRY_BACKOFF", default=1.0)
OPENEDX_RETRY_BACKOFF_MAX = env.float("OPENEDX_RETRY_BACKOFF_MAX", default=30.0)
# The LMS enrollment mode of contract learners: "audit" is the one mode every run has, cloned
# runs included (the LMS falls back to it when a run has no course modes).
OPENEDX_ENROLLMENT_MODE = env.str("OPENEDX_ENROLLMENT_MODE", default="audit")
# A sync claims its run or enrollment for this many seconds: another delivery of the same sync
# stops meanwhile; after it, the claim of a worker that died mid-sync lapses and the periodic
# re-queue (REQUEUE_PENDING_AFTER) sends the sync again. A sync answered within its first
# attempts takes seconds; one whose every request times out through all its retries can outlast
# it (each request up to ATTEMPTS × (CONNECT + READ) timeouts), and a second delivery may then
# overlap it: harmless, Open edX takes a clone or an enrollment made twice as done.
OPENEDX_SYNC_LEASE = _seconds("OPENEDX_SYNC_LEASE", 900)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "": {"handlers": ["console"], "level": "WARNING"},
        "b2b": {"level": LOG_LEVEL},
        "courses": {"level": LOG_LEVEL},
        "ecommerce": {"level": LOG_LEVEL},
        "openedx": {"level": LOG_LEVEL},
        "main": {"level": LOG_LEVEL},
    },
}
