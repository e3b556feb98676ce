"""Who is acting, and through which surface: the context every audit entry records.

An interface says who acts once, at its edge, and every service it calls can ask ``actor_current``:

- commands: ``main.commands.DomainCommand`` acts as ``via="command"``, named after the command line;
- web requests: ``ActorMiddleware`` acts as the logged-in user, ``via`` from the URL (``/cms/`` is
  ``wagtail``, ``/admin/`` is ``admin``, the managers' portal (``/manage/``, ``/api/v0/manage/``)
  ``portal``, anything else ``web``);
- tasks, checkout, SSO login: ``with acting_as(Via.TASK, name=...)`` around the work.

Outside any of these (a shell, a third-party command such as ``publish_scheduled``) the actor is the
process itself, named after its command line. The context is a ``contextvars.ContextVar``, so
threads and requests never see each other's actor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse


class Via:
    """The surfaces a change can come through (stable strings, stored in audit entries)."""

    COMMAND = "command"
    WAGTAIL = "wagtail"
    ADMIN = "admin"
    WEB = "web"
    PORTAL = "portal"
    CHECKOUT = "checkout"
    JOIN = "join"
    SSO = "sso"
    TASK = "task"
    PROCESS = "process"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (``user`` set) or a process (``name`` says which), through ``via``."""

    via: str
    user: Any = None
    name: str = ""

    @property
    def person(self) -> Any:
        """The acting user, or None for a process or an anonymous visitor.

        ``user`` may be the request's lazy user: it is only looked at when something is recorded.
        """
        if self.user is None or not getattr(self.user, "is_authenticated", False):
            return None
        return self.user

    @property
    def label(self) -> str:
        """The user's email (or username), else the process name."""
        person = self.person
        if person is not None:
            return getattr(person, "email", "") or person.get_username()
        return self.name or "unknown process"


_current: ContextVar[Actor | None] = ContextVar("actor", default=None)


def _process_name() -> str:
    argv = [os.path.basename(sys.argv[0])] + sys.argv[1:2] if sys.argv and sys.argv[0] else []
    return " ".join(argv) or "python"


def actor_current() -> Actor:
    """The actor set by the enclosing ``acting_as``, else this process (``via="process"``)."""
    return _current.get() or Actor(via=Via.PROCESS, name=_process_name())


def actor_with_user(user: Any) -> Actor | None:
    """The current actor, as ``user`` (Wagtail names the user who publishes); None for no user
    (then the current actor acts)."""
    if user is None:
        return None
    current = actor_current()
    return Actor(via=current.via, user=user, name=current.name)


@contextmanager
def acting_as(via: str, *, user: Any = None, name: str = "") -> Iterator[Actor]:
    """Within the block, changes are made by ``user`` (or the process ``name``) through ``via``.

    Anonymous users count as no user. Nested blocks win over outer ones and restore them on exit.
    """
    actor = Actor(via=via, user=user, name=name)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def via_for_path(path: str) -> str:
    """The surface a URL belongs to: the Wagtail admin, the Django admin, or the site."""
    if path.startswith("/cms/"):
        return Via.WAGTAIL
    if path.startswith(("/manage/", "/api/v0/manage/")):
        return Via.PORTAL
    if path.startswith("/admin/"):
        return Via.ADMIN
    return Via.WEB


class ActorMiddleware:
    """Acts as the request's user through the request's surface for the whole request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        with acting_as(via_for_path(request.path), user=user, name="web request"):
            return self.get_response(request)
