"""Wagtail, the API (DRF, OpenAPI), payments (CyberSource), the Content-Security-Policy, Open edX
and logging."""

import re

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from main.settings.core import SITE_BASE_URL, SITE_HTTPS, env, seconds_from_env

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
OPENEDX_SYNC_LEASE = seconds_from_env("OPENEDX_SYNC_LEASE", 900)

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
