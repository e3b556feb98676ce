"""Wagtail admin rules for user accounts (SPEC §7).

The "B2B staff" group holds ``main.change_user`` so that its members can attach learners to
contracts on the Django Admin's User page, where ``main.admin.UserAdmin`` keeps them to learner
accounts and away from permissions. Wagtail's own user editor knows no such limits (it would let
them set a password or superuser status on any account), so creating, editing and deleting users
in Wagtail, and its bulk actions on users (activate or deactivate, assign a role, delete), are
for superusers only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
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


@hooks.register("before_bulk_action")
def _user_bulk_actions_for_superusers_only(
    request: HttpRequest, action_type: str, objects: list[Any], action: Any
) -> HttpResponse | None:
    if getattr(action, "model", None) is not get_user_model():
        return None
    return _superusers_only(request)
