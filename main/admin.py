"""The User admin: users with their display name; staff who are not superusers manage learners
only (they cannot change staff accounts or anyone's permissions). Outgoing mail: what was sent
to whom, and how its delivery went (view only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from main.accounts import account_email_record
from main.models import OutgoingMail, User

PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("name", "first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", *PRIVILEGE_FIELDS)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += (*PRIVILEGE_FIELDS, "last_login", "date_joined")
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A staff member who is not a superuser may change learners, not other staff accounts.
        if (
            obj is not None
            and not request.user.is_superuser
            and (obj.is_staff or obj.is_superuser)
            and obj.pk != request.user.pk
        ):
            return False
        return super().has_change_permission(request, obj)

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
