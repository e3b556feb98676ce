"""Attaching learners to their organizations' contracts when they log in through SSO (SPEC §6).

The ``organization`` claim comes in three shapes (Keycloak's organization mapper):

- a map ``alias → {"id": "<uuid>"}`` (ids on) or ``alias → {}`` (ids off);
- a list of aliases;
- one alias (a string).

Organizations are matched by ``sso_organization_id`` when the claim carries ids, by org key equal
to the alias (case-insensitive, as org keys are unique) only when it carries none; never by name.

``sso_contracts_sync`` applies the claim in one transaction: the learner is attached (source
``sso``) to every contract of a listed organization that is ``sso``, active, within its dates and
free, under the contract row's lock and the same seat rule as checkout (``b2b.services.seats``);
a full contract is refused and logged.
``sso``-sourced memberships of organizations no longer listed are detached. ``code`` and
``manual`` memberships, and enrollments, are never touched. An absent claim changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from b2b.exceptions import ContractFull, ContractInactive
from b2b.models import ContractMembership, ContractPage, OrganizationPage
from b2b.services.memberships import membership_add, membership_remove
from b2b.services.seats import contract_lock
from main.actors import Actor, Via
from main.models import User

log = logging.getLogger(__name__)

#: ``claim`` value meaning the ID token and userinfo had no ``organization`` claim at all.
ABSENT: Any = object()


@dataclass(frozen=True)
class OrganizationClaim:
    """A parsed ``organization`` claim: the ids it carries, or (when none) its aliases."""

    ids: frozenset[uuid.UUID] = frozenset()
    aliases: frozenset[str] = frozenset()


@dataclass
class SsoSyncResult:
    """What a login changed. Contracts are listed by ID, ascending; ``refused`` maps a contract
    ID to the message the learner is shown. ``claim_present`` is false for an absent claim."""

    claim_present: bool
    attached: list[int] = field(default_factory=list)
    detached: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


class MalformedClaim(ValueError):
    """The ``organization`` claim has none of the three shapes."""


def organization_claim_parse(claim: Any) -> OrganizationClaim:
    """Parse the ``organization`` claim (shapes in the module docstring).

    A map whose entries carry ids gives ``ids`` (entries without a valid id are logged and
    skipped); a map without ids, a list or a string gives ``aliases``. ``MalformedClaim`` for
    any other value (a number, a list with non-strings, a map with non-object values).
    """
    if isinstance(claim, str):
        return OrganizationClaim(aliases=frozenset({claim.strip()} - {""}))
    if isinstance(claim, list):
        if not all(isinstance(alias, str) for alias in claim):
            raise MalformedClaim(f"organization claim list holds non-strings: {claim!r}")
        return OrganizationClaim(aliases=frozenset(a.strip() for a in claim if a.strip()))
    if isinstance(claim, dict):
        if not all(isinstance(value, dict) for value in claim.values()):
            raise MalformedClaim(f"organization claim map holds non-objects: {claim!r}")
        ids: set[uuid.UUID] = set()
        with_id = [alias for alias, value in claim.items() if "id" in value]
        for alias in with_id:
            try:
                ids.add(uuid.UUID(str(claim[alias]["id"])))
            except ValueError:
                log.warning(
                    "SSO: organization %r has a malformed id %r: skipped", alias, claim[alias]["id"]
                )
        if with_id:
            return OrganizationClaim(ids=frozenset(ids))
        return OrganizationClaim(aliases=frozenset(a.strip() for a in claim if a.strip()))
    raise MalformedClaim(f"organization claim is neither a map, a list nor a string: {claim!r}")


def organizations_matching(parsed: OrganizationClaim) -> list[OrganizationPage]:
    """The organizations a parsed claim names: by SSO id, else by org key (never by name)."""
    if parsed.ids:
        return list(OrganizationPage.objects.filter(sso_organization_id__in=parsed.ids))
    if not parsed.aliases:
        return []
    match = Q()
    for alias in parsed.aliases:
        match |= Q(org_key__iexact=alias)
    return list(OrganizationPage.objects.filter(match))


def _attachable(contract: ContractPage, now: Any) -> bool:
    return contract.is_sso and contract.is_free and contract.is_in_force(now)


def sso_contracts_sync(user: User, claim: Any) -> SsoSyncResult:
    """Apply a login's ``organization`` claim to ``user``'s memberships (SPEC §6, rules in the
    module docstring), in one transaction; the audit entries say ``via="sso"``.

    ``claim`` is the claim's value, or ``ABSENT``. A malformed claim is logged and treated as
    absent (nothing changes). Contract rows are locked in ID order before any change.
    """
    if claim is ABSENT:
        log.info(
            "SSO: %s logged in without an organization claim: memberships unchanged", _label(user)
        )
        return SsoSyncResult(claim_present=False)
    try:
        parsed = organization_claim_parse(claim)
    except MalformedClaim as exc:
        log.warning("SSO: %s: %s; memberships unchanged", _label(user), exc)
        return SsoSyncResult(claim_present=False)
    actor = Actor(via=Via.SSO, user=user, name="SSO login")
    result = SsoSyncResult(claim_present=True)
    now = timezone.now()
    with transaction.atomic():
        organizations = organizations_matching(parsed)
        listed = {org.pk for org in organizations}
        candidates = {
            contract.pk: contract
            for contract in ContractPage.objects.filter(
                organization_id__in=listed,
                integration_type=ContractPage.IntegrationType.SSO,
                active=True,
            )
            .select_related("organization")
            .order_by("pk")
            if _attachable(contract, now)
        }
        attach = list(candidates)
        detach = list(
            ContractMembership.objects.filter(user=user, source=ContractMembership.Source.SSO)
            .exclude(contract__organization_id__in=listed)
            .order_by("contract_id")
            .values_list("contract_id", flat=True)
        )
        for contract_id in sorted(set(attach) | set(detach)):
            contract_lock(contract_id)
        for contract_id in detach:
            if membership_remove(user, contract_id=contract_id, actor=actor):
                result.detached.append(contract_id)
        for contract_id in attach:
            contract = candidates[contract_id]
            try:
                added = membership_add(
                    user, contract_id=contract_id, source=ContractMembership.Source.SSO, actor=actor
                )
            except ContractInactive as exc:  # deactivated or ended since it was read
                log.warning(
                    "SSO: %s not attached to contract %s: %s",
                    _label(user),
                    contract_id,
                    exc.message,
                )
                continue
            except ContractFull as exc:
                log.warning(
                    "SSO: %s not attached to contract %s: %s",
                    _label(user),
                    contract_id,
                    exc.message,
                )
                result.refused[contract_id] = (
                    f"The contract “{contract.name}” of {contract.organization.name} has no "
                    "seats left, so you were not added to it: contact your organization."
                )
                continue
            if added.created:
                result.attached.append(contract_id)
    return result


def _label(user: User) -> str:
    return getattr(user, "email", "") or user.get_username()
