"""Organizations and contracts as Wagtail pages: what editors may do to them, and what follows.

The Wagtail admin (``b2b.wagtail_hooks``, the page forms) and the pages' own publish path call
these; the rules are SPEC §1 and §7:

- an org key is fixed once the organization has contract runs (their keys embed it);
- a contract stays under the organization it was made for (its runs' keys embed both);
- an organization with contracts, or a contract with runs, learners or redeemed codes, is not
  deleted (deactivate it instead);
- publishing a contract takes the one path of a contract change (``contracts.contract_changed``:
  the audit entry, and the enrollment-code adjustment asked for on commit except for a pure
  deactivation); saving a draft changes nothing live;
- every create, change and delete is recorded in the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from wagtail.models import Page

from b2b.exceptions import OrganizationKeyFixed, PageInUse, as_domain_error
from b2b.models import ContractMembership, ContractPage, OrganizationIndexPage, OrganizationPage
from b2b.services.audit import audit_record, field_changes, live_values, values_of
from b2b.services.contracts import (
    CONTRACT_FIELDS,
    contract_created_record,
    contract_live_values,
    contract_publish,
    contract_published,
)
from b2b.services.organizations import (
    ORGANIZATION_FIELDS,
    organization_created_record,
    organization_runs,
)
from b2b.validators import display_name_clean
from courses.models import CourseRun
from ecommerce.models import Discount
from main.actors import actor_with_user

# -- deleting, moving, copying ---------------------------------------------------------------


def contract_delete_check(contract: ContractPage) -> None:
    """A contract with runs, learners or redeemed codes is kept: ``PageInUse`` says why."""
    runs = CourseRun.objects.filter(b2b_contract=contract).count()
    learners = ContractMembership.objects.filter(contract=contract).count()
    redeemed = (
        Discount.objects.filter(product_links__product__course_run__b2b_contract=contract)
        .redeemed()
        .count()
    )
    nouns = ((runs, "course run"), (learners, "learner"), (redeemed, "redeemed code"))
    reasons = [f"{count} {noun}{'s' if count != 1 else ''}" for count, noun in nouns if count]
    if reasons:
        raise PageInUse(
            f"Contract {contract.name!r} cannot be deleted: it has {', '.join(reasons)}. "
            "Deactivate it instead (untick Active and publish)."
        )


def page_delete_check(page: Page) -> None:
    """Whether ``page`` (and the pages under it) may be deleted; ``PageInUse`` when not.

    A contract: see ``contract_delete_check``. Any other page: refused when contracts sit under
    it (an organization with contracts; the Organizations index or Home above them).
    """
    page = page.specific
    if isinstance(page, ContractPage):
        contract_delete_check(page)
        return
    contracts = ContractPage.objects.descendant_of(page).count()
    if contracts:
        what = "Organization" if isinstance(page, OrganizationPage) else "This page"
        raise PageInUse(
            f"{what} {page.title!r} cannot be deleted: it has {contracts} contract"
            f"{'s' if contracts != 1 else ''} under it. Deactivate the contracts instead."
        )
    if isinstance(page, OrganizationIndexPage) and page.get_children().exists():
        raise PageInUse(
            "The Organizations page cannot be deleted while it has organizations under it."
        )


def page_move_check(page: Page, destination: Page) -> None:
    """Contracts stay with their organization, organizations under the Organizations page: the
    run keys embed both. ``PageInUse`` for a move elsewhere."""
    page = page.specific
    if isinstance(page, ContractPage) and destination.pk != page.organization_id:
        raise PageInUse(
            f"Contract {page.name!r} cannot move to another organization: its organization is "
            "part of its run keys and its codes. Create a new contract under the other "
            "organization (Copy makes one with the same terms) and deactivate this one."
        )
    if (
        isinstance(page, OrganizationPage | OrganizationIndexPage)
        and destination.pk != page.get_parent().pk
    ):
        raise PageInUse(
            f"{page.title!r} stays where it is: organizations live under Organizations."
        )


def organization_copy_refuse(organization: OrganizationPage) -> None:
    """Organizations are not copied (name, org key and SSO ID are unique): ``PageInUse``."""
    raise PageInUse(
        f"Organization {organization.name!r} cannot be copied: names, org keys and SSO IDs are "
        "unique. Add a new organization under Organizations instead."
    )


def contract_copy(
    source: ContractPage, *, organization: OrganizationPage, name: str, slug: str = ""
) -> ContractPage:
    """A new contract with ``source``'s terms (type, dates, cap, price, description) under
    ``organization``, named ``name``: inactive, published, with no learners, runs, products or
    codes (courseware is added afresh). Activating it later queues its codes. A name that is
    not a valid display name (``display_name_clean``) raises ``InvalidContractInput``."""
    try:
        name = display_name_clean(name, what="contract")
    except ValidationError as exc:
        raise as_domain_error(exc) from None
    with transaction.atomic():
        copy = ContractPage(
            title=name,
            name=name,
            slug=slug,
            description=source.description,
            integration_type=source.integration_type,
            contract_start=source.contract_start,
            contract_end=source.contract_end,
            max_learners=source.max_learners,
            enrollment_fixed_price=source.enrollment_fixed_price,
            active=False,
            live=True,
        )
        organization.add_child(instance=copy)
        copy.save_revision().publish()
        contract_created_record(copy, copied_from=source.pk)
    return copy


# -- creating, publishing, deleting: the audit trail and the codes ---------------------------


def page_created_record(page: Page) -> None:
    """After an editor creates an organization or a contract (draft or published)."""
    page = page.specific
    if isinstance(page, ContractPage):
        contract_created_record(page)
    elif isinstance(page, OrganizationPage):
        organization_created_record(page)


def page_deleted_record(page: Page, *, page_id: int) -> None:
    """An organization or a contract page is being deleted: its last values, in the trail.
    Call it in the deleting transaction, before the page goes."""
    page = page.specific
    if isinstance(page, ContractPage):
        fields, action = CONTRACT_FIELDS, "contract.delete"
    elif isinstance(page, OrganizationPage):
        fields, action = ORGANIZATION_FIELDS, "organization.delete"
    else:
        return
    audit_record(
        page, action=action, changes=field_changes(values_of(page, fields), {}), page_id=page_id
    )


def page_publish_begin(page: OrganizationPage | ContractPage) -> dict[str, Any]:
    """The page's live values before a publish (what ``page_publish_end`` compares with)."""
    if isinstance(page, ContractPage):
        return contract_live_values(page.pk)
    return live_values(OrganizationPage, page.pk, ORGANIZATION_FIELDS)


def page_publish_end(
    page: OrganizationPage | ContractPage, before: dict[str, Any], *, user: Any = None
) -> None:
    """After a revision of an organization or a contract was published: a contract's change
    takes the one path (``contracts.contract_published``: its audit entry and its code
    adjustment); an organization's is recorded here. An organization whose key changed although
    it has contract runs is refused (``OrganizationKeyFixed``): call it in the publishing
    transaction."""
    if isinstance(page, ContractPage):
        contract_published(page, before, actor=actor_with_user(user))
        return
    changes = field_changes(before, page_publish_begin(page)) if before else {}
    old_key = OrganizationPage(pk=page.pk, org_key=before.get("org_key", ""))
    if "org_key" in changes and organization_runs(old_key).exists():
        raise OrganizationKeyFixed(
            f"The org key {old_key.org_key!r} cannot change: the organization has contract runs "
            "whose keys embed it."
        )
    if changes:
        audit_record(
            page, action="organization.change", changes=changes, actor=actor_with_user(user)
        )


def page_unpublished_edit_record(
    page: OrganizationPage | ContractPage, before: dict[str, Any], *, user: Any = None
) -> None:
    """A page never published is edited in place (Wagtail writes a draft's values to its row):
    record what changed. Nothing is queued: the codes follow on publish."""
    changes = field_changes(before, page_publish_begin(page)) if before else {}
    if changes:
        kind = "contract" if isinstance(page, ContractPage) else "organization"
        audit_record(page, action=f"{kind}.change", changes=changes, actor=actor_with_user(user))


def page_publish(
    page: OrganizationPage | ContractPage, revision: Any, *, user: Any = None, **kwargs: Any
) -> Any:
    """Publish a revision of an organization or a contract through the page's ``publish``
    (Wagtail's create view, bulk publish, scheduled publishing, workflows; the edit view calls
    the same two steps from its hooks). A contract: ``contracts.contract_publish``. An
    organization: Wagtail's own publish, with ``page_publish_begin`` and ``page_publish_end``
    around it in one transaction. Returns what Wagtail's publish returns.
    """
    if isinstance(page, ContractPage):
        return contract_publish(page, revision, user=user, **kwargs).result
    with transaction.atomic():
        before = page_publish_begin(page)
        result = page.publish_unrecorded(revision, user=user, **kwargs)
        page_publish_end(page, before, user=user)
    return result
