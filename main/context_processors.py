"""What every page's template may need."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from main.sso import sso_enabled


def sso(request: HttpRequest) -> dict[str, Any]:
    """``sso_enabled``: whether the pages offer "Log in with your organization"."""
    return {"sso_enabled": sso_enabled()}
