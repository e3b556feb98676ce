"""Wagtail admin rules for user accounts (SPEC §7).

The "B2B staff" group holds ``main.change_user`` so that its members can attach learners to
contracts on the Django Admin's User page, where ``main.admin.UserAdmin`` keeps them to learner
accounts and away from permissions. Wagtail's own user editor knows no such limits (it would let
them set a password or superuser status on any account), so creating, editing and deleting users
in Wagtail is for superusers only.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from wagtail import hooks
from wagtail.admin.auth import permission_denied


def _superusers_only(request: HttpRequest, *args: Any) -> HttpResponse | None:
    if request.user.is_superuser:
        return None
    return permission_denied(request)


hooks.register("before_create_user", _superusers_only)
hooks.register("before_edit_user", _superusers_only)
hooks.register("before_delete_user", _superusers_only)
