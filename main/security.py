"""Who is asking, how often, and what the pages may load: the client's address, the login
throttle, the Content-Security-Policy's moving parts.

``client_ip`` is the one reading of a request's address (the code-attempt throttles, the login
throttle, the orders' recorded address). The login throttle is django-axes, at the
authentication-backend level (``LoginThrottleBackend`` first in ``AUTHENTICATION_BACKENDS``), so
it holds for every form that authenticates with a password: the login page, the Django admin's,
the Wagtail admin's, any other login form that calls ``django.contrib.auth.authenticate``.
"""

from __future__ import annotations

import functools
import math
from typing import Any
from urllib.parse import urlsplit

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``.

    ``REMOTE_ADDR`` unless ``TRUSTED_PROXIES`` (the number of reverse proxies in front of the
    site, each appending to ``X-Forwarded-For``) is set: then the address the outermost trusted
    proxy saw, counted from the right of ``X-Forwarded-For`` (what a client writes there itself
    is to the left, and ignored). ``""`` when there is none.
    """
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "") or ""


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend: refuses a password login from a client locked out after
    ``AXES_FAILURE_LIMIT`` failures (per username and address), before any other backend checks
    the password. ``authenticate()`` without a request (a script, a shell, the test client's
    ``login``) has no client to throttle and goes on to the other backends."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def login_identifier(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The name a login attempt is counted under (``AXES_USERNAME_CALLABLE``): the username or
    email address typed, trimmed and lowercased, whichever form sent it — the site's login
    (allauth: the ``login`` field, passed on as ``username`` or ``email``), the Django admin's
    and Wagtail's (``username``). ``""`` when the attempt names nobody."""
    given = credentials or {}
    data = getattr(request, "POST", {}) if request is not None else {}
    for value in (
        given.get("username"),
        given.get("email"),
        data.get("login"),
        data.get("username"),
    ):
        if value:
            return str(value).strip().lower()
    return ""


def login_cool_off_seconds(request: HttpRequest | None = None) -> int:
    """How long a locked-out client waits, in whole seconds (``AXES_COOLOFF_TIME``)."""
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds()) if cool_off else 0


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout response (``AXES_LOCKOUT_CALLABLE``): a page that says how long to
    wait, status 429 with ``Retry-After`` (each attempt while locked out starts the wait anew)."""
    seconds = login_cool_off_seconds(request)
    minutes = math.ceil(seconds / 60)
    response = render(
        request,
        "main/login_locked.html",
        {
            "message": (
                "Too many failed login attempts: wait "
                f"{minutes} minute{'s' if minutes != 1 else ''} before trying again. Every "
                "attempt while you wait starts the wait again."
            ),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def _origin(url: str) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def csp_allow_form_action(response: Any, *urls: str) -> Any:
    """Let the page in ``response`` post forms to these URLs' origins too (the payment page to
    the gateway), on top of ``CONTENT_SECURITY_POLICY``'s ``form-action``. Returns ``response``."""
    origins = [origin for origin in map(_origin, urls) if origin]
    update = dict(getattr(response, "_csp_update", None) or {})  # django-csp's per-response part
    update["form-action"] = [*update.get("form-action", []), *origins]
    response._csp_update = update
    return response


@functools.cache
def _wagtail_admin_prefix() -> str:
    return reverse("wagtailadmin_home")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (``CONTENT_SECURITY_POLICY``), with two adjustments:

    - with SSO on, every page's forms may also lead to the SSO provider: the organization login
      posts to this site, which redirects there, and browsers check that redirect against the
      page's ``form-action``;
    - Wagtail's admin (``/cms/``) writes inline scripts in its form widgets (date pickers,
      inline panels) without a nonce: its pages may run inline scripts, still only this site's.
      Everything else of the policy holds there, and the learner pages and the Django admin
      keep the strict one.
    """

    def process_response(self, request: HttpRequest, response: Any) -> Any:
        from main.sso import sso_enabled  # main.sso imports the SSO backend: loaded on use

        if sso_enabled():
            csp_allow_form_action(response, settings.SOCIAL_AUTH_SSO_OIDC_ENDPOINT)
        if request.path_info.startswith(_wagtail_admin_prefix()):
            replace = dict(getattr(response, "_csp_replace", None) or {})
            replace["script-src"] = [SELF, UNSAFE_INLINE]
            response._csp_replace = replace
        return super().process_response(request, response)
