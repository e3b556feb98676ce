"""Where Open edX is and how patiently to talk to it: the ``OPENEDX_*`` settings (SPEC §8).

The ground of the integration: ``openedx.api``, its tasks, its services and its client all read
the settings here, so none of them imports another to learn whether edX is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from openedx.exceptions import EdxNotConfigured

#: The settings without which the integration is off.
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


@dataclass(frozen=True)
class EdxConfig:
    """Where edX is and how patiently to talk to it; read from the ``OPENEDX_*`` settings."""

    lms_url: str
    studio_url: str
    client_id: str
    client_secret: str
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 5
    backoff: float = 1.0
    backoff_max: float = 30.0

    @classmethod
    def from_settings(cls) -> EdxConfig:
        """The settings' values; ``EdxNotConfigured`` names the ones still unset."""
        missing = edx_missing_settings()
        if missing:
            raise EdxNotConfigured(
                f"Open edX is not configured: set {', '.join(missing)} (see the README's "
                "Settings) and try again."
            )
        for name in ("OPENEDX_API_BASE_URL", "OPENEDX_STUDIO_API_BASE_URL"):
            if not getattr(settings, name).startswith(("http://", "https://")):
                raise EdxNotConfigured(
                    f"{name} must be an http:// or https:// URL (it is "
                    f"{getattr(settings, name)!r}): fix it and try again."
                )
        return cls(
            lms_url=settings.OPENEDX_API_BASE_URL.rstrip("/"),
            studio_url=settings.OPENEDX_STUDIO_API_BASE_URL.rstrip("/"),
            client_id=settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID,
            client_secret=settings.OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET,
            connect_timeout=float(settings.OPENEDX_CONNECT_TIMEOUT),
            read_timeout=float(settings.OPENEDX_READ_TIMEOUT),
            attempts=max(1, int(settings.OPENEDX_RETRY_ATTEMPTS)),
            backoff=max(0.0, float(settings.OPENEDX_RETRY_BACKOFF)),
            backoff_max=max(0.0, float(settings.OPENEDX_RETRY_BACKOFF_MAX)),
        )
