"""Organization services (SPEC §1, §2)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.text import slugify
from wagtail.coreutils import find_available_slug
from wagtail.models import Page

from b2b.exceptions import (
    InvalidContractInput,
    OrganizationConflict,
    OrganizationKeyFixed,
    OrganizationNotFound,
    as_domain_error,
)
from b2b.models import OrganizationIndexPage, OrganizationPage
from b2b.services.audit import audit_record, field_changes, values_of
from b2b.validators import (
    display_name_clean,
    display_name_normalise,
    validate_description,
    validate_org_key,
)
from courses.models import CourseRun

# Audit name -> model attribute: what an organization's audit entries compare.
ORGANIZATION_FIELDS = {
    "name": "name",
    "org_key": "org_key",
    "sso_organization_id": "sso_organization_id",
    "description": "description",
    "logo": "logo_id",
}


def organization_index_ensure(*, home: Page) -> tuple[OrganizationIndexPage, bool]:
    """The one "Organizations" index page, created under ``home`` when missing."""
    index = OrganizationIndexPage.objects.first()
    if index is not None:
        return index, False
    index = OrganizationIndexPage(title="Organizations", slug="organizations", live=True)
    home.add_child(instance=index)
    index.save_revision().publish()
    return index, True


def organization_index() -> OrganizationIndexPage:
    """The index page; ``InvalidContractInput`` pointing at ``configure_wagtail`` when missing."""
    index = OrganizationIndexPage.objects.first()
    if index is None:
        raise InvalidContractInput(
            "There is no Organizations page yet: run `manage.py configure_wagtail` first."
        )
    return index


def unique_child_slug(parent: Page, text: str, *, fallback: str) -> str:
    """A slug from ``text``, unique among ``parent``'s children (``-1``, ``-2``... if taken)."""
    return find_available_slug(parent, slugify(text)[:240] or fallback)


def organization_get(organization_id: int) -> OrganizationPage:
    """The organization with this ID, or ``OrganizationNotFound`` pointing at ``b2b_list``."""
    organization = OrganizationPage.objects.filter(pk=organization_id).first()
    if organization is None:
        raise OrganizationNotFound(
            f"No organization with ID {organization_id}: "
            "`manage.py b2b_list organizations` lists them."
        )
    return organization


def organization_find(name_or_key: str) -> OrganizationPage | None:
    """Look an organization up by name, then by org key, both case-insensitive (SPEC §2); the
    name as it is stored (``display_name_normalise``: NFKC, single spaces)."""
    text = display_name_normalise(name_or_key)
    return (
        OrganizationPage.objects.filter(name__iexact=text).first()
        or OrganizationPage.objects.filter(org_key__iexact=text).first()
    )


_UUID_TEXT = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


def parse_sso_organization_id(value: str | None) -> uuid.UUID | None:
    """A Keycloak organization ID as the operator typed it (``8-4-4-4-12`` hex digits, any case,
    spaces trimmed) → ``uuid.UUID``; None stays None. Anything else: ``InvalidContractInput``."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if not _UUID_TEXT.fullmatch(text):
        raise InvalidContractInput(
            f"SSO organization ID {value!r} is not a UUID: copy the organization's ID from "
            "Keycloak, for example 0b6a7c3e-58e4-4c59-a1f0-8f1b3b7b6a42."
        )
    return uuid.UUID(text)


def organization_create(
    *,
    name: str,
    org_key: str,
    description: str = "",
    sso_organization_id: uuid.UUID | None = None,
) -> OrganizationPage:
    """Create an organization page under the index, published, with a unique slug.

    Raises ``InvalidContractInput`` for an empty name or a malformed org key, and
    ``OrganizationConflict`` when the name, the org key or the SSO ID is already used
    (all case-insensitive).
    """
    try:
        name = display_name_clean(name, what="organization")
    except ValidationError as exc:
        raise as_domain_error(exc) from None
    if not name:
        raise InvalidContractInput("The organization name is empty: give its full name.")
    try:
        validate_description(description, what="organization")
        validate_org_key(org_key)
    except ValidationError as exc:
        raise as_domain_error(exc) from None
    with transaction.atomic():
        index = organization_index()
        clash = OrganizationPage.objects.filter(name__iexact=name).first()
        if clash is not None:
            raise OrganizationConflict(
                f"An organization named {clash.name!r} already exists (ID {clash.pk}); "
                "use it, or give the new one a different name."
            )
        clash = OrganizationPage.objects.filter(org_key__iexact=org_key).first()
        if clash is not None:
            raise OrganizationConflict(
                f"Org key {org_key!r} is already used by {clash.name!r} (ID {clash.pk}): "
                "choose another --org-key."
            )
        if sso_organization_id is not None:
            clash = OrganizationPage.objects.filter(sso_organization_id=sso_organization_id).first()
            if clash is not None:
                raise OrganizationConflict(
                    f"SSO organization ID {sso_organization_id} is already used by "
                    f"{clash.name!r} (ID {clash.pk})."
                )
        organization = OrganizationPage(
            title=name,
            name=name,
            org_key=org_key,
            description=description,
            sso_organization_id=sso_organization_id,
            slug=unique_child_slug(index, name, fallback="organization"),
            live=True,
        )
        index.add_child(instance=organization)
        organization.save_revision().publish()
        organization_created_record(organization)
    return organization


def organization_created_record(organization: OrganizationPage) -> None:
    """The audit entry of a new organization: every field it was created with."""
    audit_record(
        organization,
        action="organization.create",
        changes=field_changes({}, values_of(organization, ORGANIZATION_FIELDS)),
    )


def organization_resolve(
    organization: str,
    *,
    create: bool = False,
    org_key: str | None = None,
    sso_organization_id: uuid.UUID | None = None,
) -> tuple[OrganizationPage, bool]:
    """The organization a new contract goes to, created when asked (SPEC §2 ``create``).

    Looked up by name, then org key. Not found and not ``create``: refused, naming
    ``--create --org-key``. ``create`` without ``org_key``: refused. ``create`` for an
    organization that exists: used when ``org_key`` matches its key, else refused.
    ``sso_organization_id`` (only with ``create``) is the new organization's SSO ID; for an
    organization that exists it must be the one it has (``b2b_organization modify`` changes it).
    Returns ``(organization, created)``.
    """
    if sso_organization_id is not None and not create:
        raise InvalidContractInput(
            "--sso-id only applies with --create (a new organization); to set an existing "
            "organization's SSO ID use `manage.py b2b_organization modify <org id> --sso-id UUID`."
        )
    if create and not org_key:
        raise InvalidContractInput(
            "--create needs --org-key: give the new organization's key, for example "
            "--create --org-key UniversityX."
        )
    if org_key is not None and not create:
        raise InvalidContractInput(
            "--org-key only applies with --create (when the organization is new); "
            "drop it to use an existing organization."
        )
    existing = organization_find(organization)
    if existing is not None:
        if create and existing.org_key.lower() != (org_key or "").lower():
            raise OrganizationConflict(
                f"Organization {existing.name!r} already exists with org key "
                f"{existing.org_key!r}, not {org_key!r}: drop --create to use it, or give "
                "a different name for a new organization."
            )
        if sso_organization_id is not None and existing.sso_organization_id != sso_organization_id:
            raise OrganizationConflict(
                f"Organization {existing.name!r} exists with SSO organization ID "
                f"{existing.sso_organization_id or 'none'}, not {sso_organization_id}: use "
                f"`manage.py b2b_organization modify {existing.pk} --sso-id UUID` to change it."
            )
        return existing, False
    if not create:
        raise OrganizationNotFound(
            f"No organization named or keyed {organization.strip()!r}: to create it, add "
            "--create --org-key <org key>; `manage.py b2b_list organizations` lists the "
            "existing ones."
        )
    created = organization_create(
        name=organization, org_key=org_key or "", sso_organization_id=sso_organization_id
    )
    return created, True


def organization_modify(
    organization_id: int,
    *,
    name: Any = None,
    description: Any = None,
    sso_organization_id: Any = ...,
) -> tuple[OrganizationPage, dict[str, dict[str, Any]]]:
    """Change an organization's name, description or SSO organization ID (SPEC §1, §2).

    ``None`` (name, description) and ``...`` (``sso_organization_id``) leave a field as it is;
    ``sso_organization_id=None`` clears it. Publishes a revision, which records the change in
    the organization's history. Returns the organization and its changes
    (``{field: {"before", "after"}}``; empty when nothing changed: nothing is written then).
    Raises ``OrganizationNotFound``, ``InvalidContractInput`` (empty or overlong name) and
    ``OrganizationConflict`` (name or SSO ID used by another organization).
    """
    with transaction.atomic():
        organization = organization_get(organization_id)
        before = values_of(organization, ORGANIZATION_FIELDS)
        if name is not None:
            try:
                name = display_name_clean(name, what="organization")
            except ValidationError as exc:
                raise as_domain_error(exc) from None
            if not name:
                raise InvalidContractInput("The organization name is empty: give its full name.")
            organization_name_check(name, organization=organization)
            organization.name = organization.title = name
        if description is not None:
            try:
                validate_description(description, what="organization")
            except ValidationError as exc:
                raise as_domain_error(exc) from None
            organization.description = description
        if sso_organization_id is not ...:
            organization_sso_check(sso_organization_id, organization=organization)
            organization.sso_organization_id = sso_organization_id
        changes = field_changes(before, values_of(organization, ORGANIZATION_FIELDS))
        if changes:
            organization.save_revision().publish()
    return organization, changes


# -- the organization rules the commands and the Wagtail form share (SPEC §1) ------------


def organization_runs(organization: OrganizationPage) -> QuerySet[CourseRun]:
    """The contract runs whose keys embed the organization's key: runs on its contracts, and
    runs once made for it and since removed from their contract (``UAI_<org key>``)."""
    prefix = f"course-v1:UAI_{organization.org_key}+"
    return CourseRun.objects.filter(
        Q(b2b_contract__organization_id=organization.pk)
        | Q(is_b2b=True, courseware_id__istartswith=prefix)
    )


def organization_name_check(name: str, *, organization: OrganizationPage) -> None:
    """Names are unique, case-insensitive (SPEC §1): ``OrganizationConflict`` naming the other."""
    clash = (
        OrganizationPage.objects.filter(name__iexact=name.strip())
        .exclude(pk=organization.pk)
        .first()
    )
    if clash is not None:
        raise OrganizationConflict(
            f"An organization named {clash.name!r} already exists (ID {clash.pk}): give this one "
            "a different name."
        )


def organization_key_check(org_key: str, *, organization: OrganizationPage) -> None:
    """An org key is unique (case-insensitive) and, once the organization has contract runs,
    fixed: ``OrganizationConflict`` / ``OrganizationKeyFixed``. (Its format is checked by the
    shared validator ``validate_org_key``.)"""
    clash = (
        OrganizationPage.objects.filter(org_key__iexact=org_key).exclude(pk=organization.pk).first()
    )
    if clash is not None:
        raise OrganizationConflict(
            f"Org key {org_key!r} is already used by {clash.name!r} (ID {clash.pk}): "
            "choose another."
        )
    if organization.pk is None:
        return
    current = OrganizationPage.objects.get(pk=organization.pk)
    if current.org_key != org_key and organization_runs(current).exists():
        raise OrganizationKeyFixed(
            f"The org key {current.org_key!r} cannot change: the organization has contract runs "
            f"whose keys embed it (course-v1:UAI_{current.org_key}+...). Keep it."
        )


def organization_sso_check(
    sso_organization_id: uuid.UUID | None, *, organization: OrganizationPage
) -> None:
    """An SSO organization ID belongs to one organization at most: ``OrganizationConflict``."""
    if sso_organization_id is None:
        return
    clash = (
        OrganizationPage.objects.filter(sso_organization_id=sso_organization_id)
        .exclude(pk=organization.pk)
        .first()
    )
    if clash is not None:
        raise OrganizationConflict(
            f"SSO organization ID {sso_organization_id} is already used by {clash.name!r} "
            f"(ID {clash.pk}): check the ID in Keycloak."
        )
