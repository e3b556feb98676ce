"""Learners' accounts (django-allauth): the adapter that fits allauth to the product, and the one
writer of a user's verified email.

- Every mail allauth sends (verification, password reset, notices) goes through the product's
  outgoing mail (``main.mail.mail_queue``): queued on commit, templated, status recorded.
- Links in those mails point at ``SITE_BASE_URL``, never at the host a request claimed.
- A new account keeps the full name typed at sign-up (``User.name``).
- Where a login and a logout land is decided here and nowhere else (``landing_url``,
  ``logout_url``): learners on *My courses*, staff (B2B staff, superusers: whoever may use the
  Wagtail admin) on ``/cms/``; a logout from any surface (the site, ``/admin/``, ``/cms/``) on
  the site's login page, never Django admin's "Logged out" page.

The verified email is allauth's ``EmailAddress`` (``verified``, ``primary``), the primary one
mirrored in ``User.email``. Sign-up and email change verify it by a mailed link;
``account_email_record`` records an address someone else vouches for (the organization's SSO
provider's ``email_verified``, the demo's accounts). Later rules (a code only for the learner
whose verified email it was given to) read it with ``email_is_verified``.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.forms import BaseForm
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse

from main.mail import mail_queue, site_url

log = logging.getLogger(__name__)


#: The Wagtail permission that makes a user staff here: superusers and the "B2B staff" group.
STAFF_PERMISSION = "wagtailadmin.access_admin"


def landing_url(user: Any) -> str:
    """Where a login lands when no page asked for it: ``/cms/`` for staff (``STAFF_PERMISSION``),
    *My courses* (``LOGIN_REDIRECT_URL``) for everyone else."""
    if getattr(user, "is_authenticated", False) and user.has_perm(STAFF_PERMISSION):
        return reverse("wagtailadmin_home")
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def logout_url() -> str:
    """Where every logout lands: the site's login page (``LOGOUT_REDIRECT_URL``)."""
    return resolve_url(settings.LOGOUT_REDIRECT_URL)


#: The longest full name kept (``User.name``).
PERSON_NAME_MAX = 255


def person_name_hidden(value: str) -> str | None:
    """The first character of ``value`` that a person's name may not hold, or ``None``: a
    control character other than white space (a terminal escape starts with one) or a format
    character (zero-width, direction overrides and isolates): they act on what shows the name
    (a terminal, a table, a mail) instead of being read."""
    return next(
        (
            char
            for char in value
            if not char.isspace() and unicodedata.category(char) in ("Cc", "Cf")
        ),
        None,
    )


def person_name(value: str) -> str:
    """A learner's full name as it is stored, from text nobody here typed (an SSO provider's
    claims): control and format characters dropped (``person_name_hidden``), white space runs
    made one space, at most ``PERSON_NAME_MAX`` characters. ``"Eve\\x1b[2J  X"`` → ``"Eve[2J X"``.
    """
    kept = "".join(char for char in value if person_name_hidden(char) is None)
    return " ".join(kept.split())[:PERSON_NAME_MAX].rstrip()


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, with the product's mail, links, sign-up fields and landing pages."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """After a login with no ``next``: ``landing_url``."""
        return landing_url(request.user)

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        return logout_url()

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Queue the mail through ``main.mail`` (rendered from the same templates allauth
        uses: ``<prefix>_subject.txt``, ``_message.txt``, ``_message.html``)."""
        mail_queue(
            email,
            template=template_prefix,
            context={"email": email, **context},
            user=context.get("user"),
        )

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        return site_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return site_url(path.replace("UID-KEY", quote(key)))

    def save_user(
        self, request: HttpRequest, user: Any, form: BaseForm, commit: bool = True
    ) -> Any:
        user = super().save_user(request, user, form, commit=False)
        user.name = form.cleaned_data.get("name", "")
        if commit:
            user.save()
        return user


def account_email_record(user: Any, email: str, *, verified: bool) -> EmailAddress | None:
    """Make ``email`` the user's primary address, verified when ``verified`` (the caller
    vouches for it: an SSO provider's ``email_verified``, a demo account); ``User.email``
    follows. Other addresses of the user are removed (one address per account, as an email
    change leaves it). A verified address is never made unverified. An address another account
    has verified stays unverified here (logged): one verified owner per address.

    Returns the ``EmailAddress``; ``None`` for an empty ``email`` (nothing changes).
    """
    email = (email or "").strip()
    if not email:
        return None
    normalized = email.lower()
    with transaction.atomic():
        address = EmailAddress.objects.filter(user=user, email__iexact=normalized).first()
        if address is None:
            address = EmailAddress(user=user, email=normalized)
        if verified and not address.verified:
            taken = (
                EmailAddress.objects.filter(email__iexact=normalized, verified=True)
                .exclude(user=user)
                .exists()
            )
            if taken:
                log.warning(
                    "The email %s is verified by another account: recorded unverified for user %s.",
                    normalized,
                    user.pk,
                )
            else:
                address.verified = True
        EmailAddress.objects.filter(user=user).exclude(pk=address.pk).delete()
        address.primary = True
        address.save()
        if (user.email or "").lower() != normalized:
            user.email = email
            user.save(update_fields=["email"])
    return address


def email_is_verified(user: Any, email: str) -> bool:
    """Whether ``email`` (any case) is a verified address of ``user``."""
    return EmailAddress.objects.filter(
        user=user, email__iexact=(email or "").strip(), verified=True
    ).exists()
