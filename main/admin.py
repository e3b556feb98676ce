"""The User admin: users with their display name.

A superuser keeps Django's full User admin. Any other staff member (the "B2B staff" group, SPEC
§7) manages contract memberships on a learner's page and nothing else of the account: identity,
status, groups, permissions and dates are shown read-only, there is no password form (its URL
answers 403, so nobody can set a learner's password and log in as them), users cannot be added
or deleted, and staff accounts other than their own cannot be opened for change at all.

Outgoing mail: what was sent to whom, and how its delivery went (view only).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from main.accounts import account_email_record
from main.models import OutgoingMail, User

PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
#: What identifies and admits a person: a superuser's to change, read-only for other staff.
IDENTITY_FIELDS = ("username", "name", "first_name", "last_name", "email", "is_active")
DATE_FIELDS = ("last_login", "date_joined")
#: What a staff member who is not a superuser reads at the top of a user's page.
STAFF_NOTE = (
    "A superuser changes an account's details and password. You attach this user to contracts, "
    "or detach them, below."
)


def _full_power(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("name", "first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", *PRIVILEGE_FIELDS)}),
        ("Important dates", {"fields": DATE_FIELDS}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "name", "password1", "password2"),
            },
        ),
    )
    list_display = ("username", "email", "name", "is_staff", "is_active")
    search_fields = ("username", "email", "name", "first_name", "last_name")
    ordering = ("username",)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or _full_power(request):
            return fieldsets
        # No password row: its widget links to the password form (and shows the hash's summary).
        narrowed = [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "password")})
            for name, options in fieldsets
        ]
        narrowed[0][1]["description"] = STAFF_NOTE
        return tuple(narrowed)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not _full_power(request):
            # "password" too, so the form drops its declared field: nothing posted can reach it.
            fields += (*IDENTITY_FIELDS, *PRIVILEGE_FIELDS, *DATE_FIELDS, "password")
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _full_power(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _full_power(request) and super().has_delete_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A staff member who is not a superuser may change learners, not other staff accounts.
        if (
            obj is not None
            and not _full_power(request)
            and (obj.is_staff or obj.is_superuser)
            and obj.pk != request.user.pk
        ):
            return False
        return super().has_change_permission(request, obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Setting another account's password is a superuser's: anyone else gets 403 (staff
        change their own password with the admin's "Change password" link, which asks for the
        old one)."""
        if not _full_power(request):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "email" in form.changed_data:
            # An address typed by staff is the account's, but not confirmed by its owner.
            account_email_record(obj, obj.email, verified=False)


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    """Every mail the product sent or is sending, with its status and last error. View only;
    the bodies of account mail (one-time links) are not shown."""

    list_display = ("created_on", "to", "subject", "status", "attempts", "provider_status")
    list_filter = ("status", "provider_status", "template")
    search_fields = ("to", "subject", "key", "provider_message_id")
    date_hierarchy = "created_on"
    ordering = ("-created_on", "-pk")
    FIELDS = (
        "to",
        "user",
        "from_email",
        "subject",
        "template",
        "key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_on",
        "sent_on",
        "provider_message_id",
        "provider_status",
        "provider_status_on",
        "created_on",
        "updated_on",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and not obj.template.startswith("account/"):
            return (*self.FIELDS, "body_text")
        return self.FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
