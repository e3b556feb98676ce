"""The login page: Django's own form, and the organization login (SSO) when configured."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views

from main.sso import sso_enabled


class LoginView(auth_views.LoginView):
    """Django's login view; offers "Log in with your organization" only when SSO is on."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = sso_enabled()
        return context
