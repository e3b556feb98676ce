"""Contract services: create, modify, look up (SPEC §1, §2), and the one path every contract
change takes (SPEC §4, §7).

A contract changes by a publish: Wagtail's (the editor, bulk, scheduled publishing, workflows)
and the services' own (``contract_create``, ``contract_modify``, a copy). Every one of them ends in
``contract_changed``: the audit entry of what changed, and the code adjustment asked for once
(``codes_adjust_queue``), unless the only change is a deactivation. Services do not ask again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from b2b.exceptions import ContractNotFound, InvalidContractInput, as_domain_error
from b2b.models import ContractCodesLock, ContractPage, OrganizationPage
from b2b.services.audit import audit_record, field_changes, live_values, values_of
from b2b.services.codes import (
    CodesAdjustment,
    CodesProgress,
    CodesReport,
    codes_adjust_queue,
    codes_plan,
)
from b2b.services.organizations import (
    organization_resolve,
    parse_sso_organization_id,
    unique_child_slug,
)
from b2b.services.seats import contract_lock
from b2b.validators import (
    CENTS,
    display_name_clean,
    validate_contract_dates,
    validate_description,
    validate_max_learners,
    validate_price,
)
from main.actors import Actor, actor_with_user


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

# Service field name -> model attribute, in the order changes are reported.
CONTRACT_FIELDS = {
    "name": "name",
    "description": "description",
    "integration_type": "integration_type",
    "active": "active",
    "start": "contract_start",
    "end": "contract_end",
    "max_learners": "max_learners",
    "price": "enrollment_fixed_price",
}


@dataclass(frozen=True)
class FieldChange:
    """One field of a contract, before and after (values JSON-ready: ISO dates, price strings)."""

    field: str
    before: Any
    after: Any


@dataclass
class ContractCreateResult:
    contract: ContractPage
    organization: OrganizationPage
    organization_created: bool
    #: The code adjustment its publishing asked for.
    codes: CodesAdjustment | None = None


@dataclass
class ContractModifyResult:
    """What ``contract_modify`` changed (or, with ``dry_run``, would change)."""

    contract: ContractPage
    changes: list[FieldChange] = field(default_factory=list)
    codes_queued: bool = False
    dry_run: bool = False
    #: With ``dry_run``: what the code adjustment would do (None for a pure deactivation).
    plan: CodesReport | None = None
    #: The code adjustment asked for (None for a pure deactivation, or a dry run): its
    #: ``report`` says what it did when it ran in this process (no broker).
    codes: CodesAdjustment | None = None


@dataclass(frozen=True)
class ContractPublished:
    """A publish of a contract: what Wagtail's publish returned, and the code adjustment the
    change asked for (None for a pure deactivation)."""

    result: Any
    codes: CodesAdjustment | None


def json_value(value: Any) -> Any:
    """A field value as the listings print it: dates ISO 8601, money a 2-decimal string."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def _cents(price: Decimal | None) -> Decimal | None:
    """A validated price quantized to cents (exact: validation allows two places at most)."""
    return None if price is None else price.quantize(CENTS, rounding=ROUND_HALF_UP)


def contract_get(contract_id: int, *, for_update: bool = False) -> ContractPage:
    """The contract with this ID (its organization loaded), or ``ContractNotFound`` pointing at
    ``b2b_list contracts``. ``for_update`` takes the contract lock first
    (``b2b.services.seats.contract_lock``: the contract's own row only), in the caller's
    transaction."""
    if for_update:
        contract_lock(contract_id)
    contract = ContractPage.objects.select_related("organization").filter(pk=contract_id).first()
    if contract is None:
        raise ContractNotFound(
            f"No contract with ID {contract_id}: `manage.py b2b_list contracts` lists them."
        )
    return contract


def _validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check a contract's values; returns them with the name in its stored form
    (``display_name_clean``). Raises ``InvalidContractInput``."""
    cleaned = dict(values)
    try:
        if (
            "integration_type" in values
            and values["integration_type"] not in ContractPage.IntegrationType.values
        ):
            raise ValidationError(
                f"Integration type {values['integration_type']!r} is not valid: use sso or non-sso."
            )
        if "name" in values:
            cleaned["name"] = display_name_clean(values["name"] or "", what="contract")
            if not cleaned["name"]:
                raise ValidationError(
                    "The contract name is empty: give the contract a descriptive name."
                )
        if "description" in values:
            validate_description(values["description"], what="contract")
        if "max_learners" in values:
            validate_max_learners(values["max_learners"])
        if "price" in values:
            validate_price(values["price"])
        validate_contract_dates(values.get("start"), values.get("end"))
    except ValidationError as exc:
        raise as_domain_error(exc) from None
    return cleaned


def contract_live_values(contract_id: int) -> dict[str, Any]:
    """The contract's fields as its row holds them now (names of ``CONTRACT_FIELDS``, JSON-ready
    values), or ``{}`` for a contract with no row; one query."""
    return live_values(ContractPage, contract_id, CONTRACT_FIELDS)


def contract_change_needs_codes(changes: dict[str, Any]) -> bool:
    """Whether a change to a contract asks for the code adjustment (SPEC §4): every change but a
    deactivation alone, and a publish that changed nothing (it re-checks the codes). ``changes``
    as ``field_changes`` gives them."""
    return not (changes.keys() == {"active"} and changes["active"]["after"] is False)


def contract_changed(
    contract: ContractPage, changes: dict[str, Any], *, actor: Actor | None
) -> CodesAdjustment | None:
    """What follows a change to a contract's live values, the one path every change takes: the
    audit entry of what changed (``contract.change``, with ``actor``, default the current one;
    none when nothing changed) and, when ``contract_change_needs_codes``, the code adjustment
    asked for once (``codes_adjust_queue``). Call it in the changing transaction. Returns the
    adjustment asked for, or None."""
    if changes:
        audit_record(contract, action="contract.change", changes=changes, actor=actor)
    if contract_change_needs_codes(changes):
        return codes_adjust_queue(contract)
    return None


def contract_published(
    contract: ContractPage, before: dict[str, Any], *, actor: Actor | None
) -> CodesAdjustment | None:
    """After a revision of the contract was published: what changed since ``before`` (its live
    values before the publish, ``contract_live_values``) takes the one path
    (``contract_changed``). Wagtail's edit view calls it from its publish hooks; every other
    publish through ``contract_publish``."""
    changes = field_changes(before, contract_live_values(contract.pk)) if before else {}
    return contract_changed(contract, changes, actor=actor)


def contract_publish(
    contract: ContractPage, revision: Any, *, user: Any = None, **kwargs: Any
) -> ContractPublished:
    """Publish a revision of the contract through Wagtail's own publish and follow the change
    (``contract_published``), in one transaction. ``user``: whom Wagtail records as publishing
    (the audit entry's actor then, through the current surface). ``kwargs`` go to Wagtail."""
    with transaction.atomic():
        before = contract_live_values(contract.pk)
        result = contract.publish_unrecorded(revision, user=user, **kwargs)
        codes = contract_published(contract, before, actor=actor_with_user(user))
    return ContractPublished(result, codes)


def _publish(contract: ContractPage) -> CodesAdjustment | None:
    """Save and publish a revision, so Wagtail shows what the command did (SPEC §1), and follow
    the change; returns the code adjustment it asked for."""
    contract.title = contract.name
    return contract_publish(contract, contract.save_revision()).codes


def contract_create(
    *,
    organization: str,
    name: str,
    integration_type: str,
    create_organization: bool = False,
    org_key: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_learners: int | None = None,
    price: Decimal | None = None,
    description: str = "",
    sso_organization_id: Any = None,
) -> ContractCreateResult:
    """Create a contract (and, with ``create_organization``, its organization) — SPEC §2.

    ``sso_organization_id`` (a UUID or its text, with ``create_organization`` only) is the new
    organization's Keycloak organization ID (SPEC §6).

    The contract is active, published, with a slug unique under its organization. Everything is
    validated before anything is written; refusals raise a ``DomainError`` and write nothing.
    Publishing asks for the code adjustment (SPEC §4) on commit (``codes``).
    """
    name = _validate(
        {
            "name": name,
            "integration_type": integration_type,
            "start": start,
            "end": end,
            "max_learners": max_learners,
            "price": price,
            "description": description,
        }
    )["name"]
    price = _cents(price)
    if isinstance(sso_organization_id, str):
        sso_organization_id = parse_sso_organization_id(sso_organization_id)
    with transaction.atomic():
        org, org_created = organization_resolve(
            organization,
            create=create_organization,
            org_key=org_key,
            sso_organization_id=sso_organization_id,
        )
        contract = ContractPage(
            title=name,
            name=name,
            slug=unique_child_slug(org, name, fallback="contract"),
            description=description,
            integration_type=integration_type,
            contract_start=start,
            contract_end=end,
            max_learners=max_learners,
            enrollment_fixed_price=price,
            active=True,
            live=True,
        )
        org.add_child(instance=contract)
        contract_created_record(contract)
        codes = _publish(contract)
    return ContractCreateResult(
        contract=contract, organization=org, organization_created=org_created, codes=codes
    )


def contract_created_record(contract: ContractPage, **extra: object) -> None:
    """A new contract's code lock row and its audit entry (every field it was created with, plus
    ``extra`` such as ``copied_from``). Every way of creating a contract calls it."""
    ContractCodesLock.objects.get_or_create(contract=contract)
    changes: dict[str, dict[str, object]] = {
        **field_changes({}, values_of(contract, CONTRACT_FIELDS))
    }
    changes["organization"] = {"before": None, "after": contract.organization.name}
    for key, value in extra.items():
        changes[key] = {"before": None, "after": value}
    audit_record(contract, action="contract.create", changes=changes)


def contract_modify(
    contract_id: int,
    *,
    name: Any = UNSET,
    description: Any = UNSET,
    integration_type: Any = UNSET,
    active: Any = UNSET,
    start: Any = UNSET,
    end: Any = UNSET,
    max_learners: Any = UNSET,
    price: Any = UNSET,
    dry_run: bool = False,
    progress: CodesProgress | None = None,
) -> ContractModifyResult:
    """Change a contract's fields (SPEC §2 ``modify``); ``None`` clears a date, cap or price.

    Fields left ``UNSET`` keep their values. The resulting contract is validated as a whole
    (start ≤ end, cap ≥ 1, 0 ≤ price ≤ 99999.99). A change is published, which records it and
    asks for the code adjustment on commit (``contract_changed``) unless it is a deactivation
    alone; a call that changes no value asks for it too (it re-checks the codes), unless it only
    asked for a deactivation. ``progress`` receives the adjustment's plan and counts if it runs
    in this process (``result.codes.report`` is then what it did). Existing runs keep their
    dates. With ``dry_run`` nothing is written or queued, and ``plan`` says what the adjustment
    would do to the changed contract (``codes_plan``). Raises ``ContractNotFound`` or
    ``InvalidContractInput``.
    """
    requested = {
        key: value
        for key, value in {
            "name": name,
            "description": description,
            "integration_type": integration_type,
            "active": active,
            "start": start,
            "end": end,
            "max_learners": max_learners,
            "price": price,
        }.items()
        if value is not UNSET
    }
    if not requested:
        contract_get(contract_id)  # an unknown contract is said as such, before the options
        raise InvalidContractInput(
            "Nothing to change: give at least one option, for example --max-learners 100 "
            "(see `manage.py b2b_contract modify --help`)."
        )
    with transaction.atomic():
        contract = contract_get(contract_id, for_update=True)
        current = {key: getattr(contract, attr) for key, attr in CONTRACT_FIELDS.items()}
        # The name and the description are checked only when they change: an old one never
        # blocks other changes.
        cleaned = _validate(
            {**{k: v for k, v in current.items() if k not in ("name", "description")}, **requested}
        )
        if "name" in requested:
            requested["name"] = cleaned["name"]
        if "price" in requested:
            requested["price"] = _cents(requested["price"])
        changes = [
            FieldChange(key, json_value(current[key]), json_value(requested[key]))
            for key in CONTRACT_FIELDS
            if key in requested and requested[key] != current[key]
        ]
        result = ContractModifyResult(contract=contract, changes=changes, dry_run=dry_run)
        asked_deactivation = requested.keys() == {"active"} and requested["active"] is False
        for key, value in requested.items():
            setattr(contract, CONTRACT_FIELDS[key], value)
        if dry_run:
            result.codes_queued = (
                contract_change_needs_codes({c.field: {"after": c.after} for c in changes})
                if changes
                else not asked_deactivation
            )
            if result.codes_queued:
                result.plan = codes_plan(contract)
            transaction.set_rollback(True)
            return result
        if changes:
            result.codes = _publish(contract)
        elif not asked_deactivation:
            result.codes = contract_changed(contract, {}, actor=None)
        if result.codes is not None:
            result.codes.progress = progress
            result.codes_queued = True
    return result
