"""An organization's managers: who they are, granting and removing (SPEC §9).

A manager sees and acts on every contract of their organization (the portal at ``/manage/``).
Staff grant it by email (``b2b_organization managers add``, the organization's Managers page in
Wagtail). A person who has an account is linked at once and told by mail; a person with none is
invited to sign up, and becomes the manager when they sign in with that address verified. Every
grant and removal is recorded in the organization's history (``manager.add``,
``manager.remove``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse

from b2b.exceptions import InvalidContractInput
from b2b.models import OrganizationManager, OrganizationPage
from b2b.services.audit import audit_record
from b2b.services.organizations import organization_get
from main.actors import Actor
from main.mail import mail_queue, site_url
from main.params import email_parse

#: The keys of ``managers_list`` rows, in column order.
MANAGER_KEYS = ("organization_id", "email", "name", "account", "alerts", "since")


def email_normalise(text: str) -> str:
    """``text`` as a stored address (trimmed, lowercase: ``main.params.email_parse``), or
    ``InvalidContractInput`` saying why it is not an email address."""
    email = email_parse(text)
    if email is None:
        raise InvalidContractInput(
            f"{text!r} is not an email address: give one like name@example.com."
        )
    return email


def account_for_email(email: str) -> Any:
    """The account whose confirmed address is ``email``; else an account made outside sign-up
    (no recorded address at all: ``createsuperuser``, staff tools) whose email it is; else None.
    An address typed at sign-up and never confirmed links nothing: it is linked when confirmed
    (``managed_organizations``)."""
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    if address is not None:
        return address.user
    return (
        get_user_model()
        .objects.filter(email__iexact=email, emailaddress__isnull=True)
        .order_by("pk")
        .first()
    )


@dataclass(frozen=True)
class ManagerChange:
    """What happened to one email: ``outcome`` is ``added``, ``invited`` (no account yet: an
    invitation to sign up was mailed), ``already-manager``, ``removed`` or ``not-a-manager``."""

    email: str
    outcome: str

    def as_row(self) -> dict[str, str]:
        return {"email": self.email, "outcome": self.outcome}


def managers_add(
    organization_id: int, emails: Iterable[str], *, actor: Actor | None = None
) -> list[ManagerChange]:
    """Make each of ``emails`` a manager of the organization; one ``ManagerChange`` per distinct
    address, in order. All addresses are checked first: one that is not an email address refuses
    the whole call (``InvalidContractInput``), nothing written. Raises ``OrganizationNotFound``.
    Mails (after commit): the account holder a notice, anyone else an invitation to sign up."""
    organization = organization_get(organization_id)
    wanted = list(dict.fromkeys(email_normalise(e) for e in emails))
    if not wanted:
        raise InvalidContractInput("Give at least one email address.")
    changes = []
    with transaction.atomic():
        existing = set(
            OrganizationManager.objects.filter(
                organization=organization, email__in=wanted
            ).values_list("email", flat=True)
        )
        for email in wanted:
            if email in existing:
                changes.append(ManagerChange(email, "already-manager"))
                continue
            user = account_for_email(email)
            manager = OrganizationManager.objects.create(
                organization=organization, email=email, user=user
            )
            audit_record(
                organization,
                action="manager.add",
                changes={"manager": {"before": None, "after": email}},
                actor=actor,
            )
            manager_invitation_queue(manager, organization)
            changes.append(ManagerChange(email, "added" if user is not None else "invited"))
    return changes


def manager_invitation_queue(manager: OrganizationManager, organization: OrganizationPage) -> None:
    """The mail telling ``manager`` they manage ``organization``: with an account, where the
    portal is; without, a link to sign up with that address (then the portal)."""
    portal = reverse("manage")
    has_account = manager.user_id is not None
    link = (
        site_url(portal) if has_account else site_url(f"{reverse('account_signup')}?next={portal}")
    )
    mail_queue(
        manager.email,
        template="b2b/mail/manager_invitation",
        context={
            "organization": organization.name,
            "has_account": has_account,
            "link": link,
            "email": manager.email,
        },
        user=manager.user,
        key=f"manager-invitation:{manager.pk}",
        new=True,
    )


def managers_remove(
    organization_id: int, emails: Iterable[str], *, actor: Actor | None = None
) -> list[ManagerChange]:
    """Remove each of ``emails`` from the organization's managers (``removed`` or
    ``not-a-manager``). Raises ``OrganizationNotFound``, ``InvalidContractInput`` as
    ``managers_add`` does."""
    organization = organization_get(organization_id)
    wanted = list(dict.fromkeys(email_normalise(e) for e in emails))
    if not wanted:
        raise InvalidContractInput("Give at least one email address.")
    changes = []
    with transaction.atomic():
        for email in wanted:
            deleted, _ = OrganizationManager.objects.filter(
                organization=organization, email=email
            ).delete()
            if not deleted:
                changes.append(ManagerChange(email, "not-a-manager"))
                continue
            audit_record(
                organization,
                action="manager.remove",
                changes={"manager": {"before": email, "after": None}},
                actor=actor,
            )
            changes.append(ManagerChange(email, "removed"))
    return changes


def managers_list(organization_id: int) -> list[dict[str, Any]]:
    """The organization's managers, by email: ``{organization_id, email, name (the account's
    full name or ""), account (bool: signed up), alerts (bool), since (ISO 8601)}``. Raises
    ``OrganizationNotFound``."""
    organization = organization_get(organization_id)
    rows = (
        OrganizationManager.objects.filter(organization=organization)
        .select_related("user")
        .order_by("email")
    )
    return [
        {
            "organization_id": organization.pk,
            "email": m.email,
            "name": m.user.get_full_name().strip() if m.user is not None else "",
            "account": m.user_id is not None,
            "alerts": m.alerts,
            "since": m.created_on.isoformat(),
        }
        for m in rows
    ]


def managed_organizations(user: Any) -> QuerySet[OrganizationPage]:
    """The organizations ``user`` manages, by name. A grant made to an address before it had an
    account is linked here to the account that has verified it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return OrganizationPage.objects.none()
    verified = [
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]
    if verified:
        OrganizationManager.objects.filter(user__isnull=True, email__in=verified).update(user=user)
    return OrganizationPage.objects.filter(managers__user=user).order_by("name", "pk").distinct()


def organization_managed(user: Any, organization_id: int) -> OrganizationPage | None:
    """The organization ``organization_id`` if ``user`` manages it, else None (a caller answers
    404: nothing says whether it exists)."""
    return managed_organizations(user).filter(pk=organization_id).first()


def manager_addresses(organization_id: int) -> list[str]:
    """The addresses of the organization's managers who asked for alerts."""
    return list(
        OrganizationManager.objects.filter(organization_id=organization_id, alerts=True)
        .order_by("email")
        .values_list("email", flat=True)
    )
