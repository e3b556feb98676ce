"""The account forms learners fill in: allauth's, with the product's words (``ACCOUNT_FORMS``).

Every field has a label and no placeholder repeating it; a required field left empty says what
to enter; a new password is explained in one sentence instead of allauth's list.
"""

from __future__ import annotations

from typing import Any

from allauth.account import forms as allauth_forms
from django import forms

from main.accounts import person_name_hidden

PASSWORD_HELP = (
    "At least 8 characters, not only digits, not a common password and not like your name or email."
)
REQUIRED = {
    "name": "Enter your full name.",
    "email": "Enter your email address.",
    "password1": "Choose a password.",
    "password2": "Type the new password again.",
    "oldpassword": "Enter your current password.",
}


class AccountFields:
    """Labels as set by ``labels``; no placeholders; the product's help and "required" texts."""

    labels: dict[str, str] = {}

    def _plain(self) -> None:
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            field.widget.attrs.pop("placeholder", None)
            if name in self.labels:
                field.label = self.labels[name]
            if name in REQUIRED:
                field.error_messages["required"] = REQUIRED[name]
            if name == "password1":
                field.help_text = PASSWORD_HELP
            elif name in ("oldpassword", "password2", "email"):
                field.help_text = ""


class SignupForm(AccountFields, allauth_forms.SignupForm):
    """Sign-up: full name (as the organization and receipts show it), email, password. The email
    must be confirmed before the first login (``ACCOUNT_EMAIL_VERIFICATION``)."""

    name = forms.CharField(
        label="Full name", max_length=255, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    field_order = ["name", "email", "password1"]
    labels = {"email": "Email", "password1": "Password"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(REQUIRED["name"])
        hidden = person_name_hidden(name)
        if hidden is not None:
            raise forms.ValidationError(
                f"Your name contains a control or invisible character (U+{ord(hidden):04X}): "
                "type it again without it."
            )
        return name


class ResetPasswordForm(AccountFields, allauth_forms.ResetPasswordForm):
    labels = {"email": "Email"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()


class ResetPasswordKeyForm(AccountFields, allauth_forms.ResetPasswordKeyForm):
    labels = {"password1": "New password", "password2": "New password (again)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()


class ChangePasswordForm(AccountFields, allauth_forms.ChangePasswordForm):
    labels = {
        "oldpassword": "Current password",
        "password1": "New password",
        "password2": "New password (again)",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()


class SetPasswordForm(AccountFields, allauth_forms.SetPasswordForm):
    labels = {"password1": "Password", "password2": "Password (again)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()


class AddEmailForm(AccountFields, allauth_forms.AddEmailForm):
    labels = {"email": "New email address"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain()
