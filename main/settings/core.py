"""The site itself: secrets and hosts, HTTPS and proxies, apps and middleware, templates, the
database, time zone, static and media files; ``seconds_from_env`` for the other parts."""

import re
import warnings
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# The placeholder is only ever accepted with DEBUG on.
INSECURE_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"


def flag_from_env(name: str, default: bool) -> bool:
    """A yes/no setting from the environment (true/false, yes/no, on/off, 1/0, any case), or a
    one-line refusal to start: a typo must not turn a setting off unnoticed. Every yes/no
    setting reads through it."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in ("true", "yes", "on", "1"):
        return True
    if raw in ("false", "no", "off", "0"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False (default {default}), not {raw!r}.")


DEBUG = flag_from_env("DEBUG", default=True)
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
SESSION_COOKIE_SECURE = flag_from_env("SESSION_COOKIE_SECURE", default=SITE_HTTPS)
CSRF_COOKIE_SECURE = flag_from_env("CSRF_COOKIE_SECURE", default=SITE_HTTPS)
SECURE_SSL_REDIRECT = flag_from_env("SECURE_SSL_REDIRECT", default=SITE_HTTPS)
# HSTS: one year, this host and its subdomains. Preloading (SECURE_HSTS_PRELOAD=True) commits
# the whole registered domain to HTTPS in every browser; the domain's owner opts in.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SITE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = flag_from_env("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SITE_HTTPS)
SECURE_HSTS_PRELOAD = flag_from_env("SECURE_HSTS_PRELOAD", default=False)
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
    # the contract lock). Django turns psycopg's preparing off unless ``prepare_threshold`` is
    # given, so both are set. Off by default: behind PgBouncer in transaction mode a prepared
    # statement may be missing on the server connection the next transaction gets (PgBouncer
    # 1.21+ with max_prepared_statements set supports them).
    if flag_from_env("DATABASE_SERVER_SIDE_BINDING", default=False):
        _options["server_side_binding"] = True
        _options.setdefault("prepare_threshold", 5)

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


def seconds_from_env(name: str, default: float) -> float:
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
