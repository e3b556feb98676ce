"""The Open edX integration's entry points (SPEC §8). Off unless all four settings are set."""

from django.conf import settings

REQUIRED_SETTINGS = (
    "OPENEDX_API_BASE_URL",
    "OPENEDX_STUDIO_API_BASE_URL",
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID",
    "OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET",
)


def edx_configured() -> bool:
    """True when every ``OPENEDX_*`` setting the integration needs is set."""
    return all(getattr(settings, name, "") for name in REQUIRED_SETTINGS)


def edx_missing_settings() -> list[str]:
    """The ``OPENEDX_*`` settings still unset (for the one log line that says edX is off)."""
    return [name for name in REQUIRED_SETTINGS if not getattr(settings, name, "")]
