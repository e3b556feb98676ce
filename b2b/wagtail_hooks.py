"""Wagtail hooks for organizations and contracts (SPEC §7).

``site_configure`` (``main.services``) hangs the Organizations index and the "B2B staff" group
from Home through ``organizations_site_configure``.

Each hook asks one service in ``b2b.services.pages`` and turns a refusal into a message on the
page the editor came from: deleting what is in use, moving a contract to another organization,
copying an organization. Copying a contract makes a fresh, inactive contract. Creating and
deleting are recorded in the audit trail; publishing is recorded by the pages' publish path.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.admin.widgets import HeaderButton, ListingButton
from wagtail.models import Page

from b2b import organization_views, staff_views
from b2b.models import ContractPage, OrganizationIndexPage, OrganizationPage
from b2b.panels import ContractCopyForm
from b2b.services.audit import AUDIT_ACTIONS, PREFIX, changes_text, via_label
from b2b.services.organizations import organization_index_ensure
from b2b.services.pages import (
    contract_copy,
    organization_copy_refuse,
    page_created_record,
    page_delete_check,
    page_deleted_record,
    page_move_check,
    page_publish_begin,
    page_publish_end,
    page_unpublished_edit_record,
)
from b2b.services.staff import staff_group_ensure
from b2b.staff_views import staff_can_manage
from main.exceptions import DomainError
from main.models import HomePage
from main.services import SITE_CONFIGURE_HOOK

B2B_PAGES = (OrganizationIndexPage, OrganizationPage, ContractPage)


def _refuse(request: HttpRequest, exc: DomainError, page: Page) -> HttpResponse:
    messages.error(request, exc.message)
    back = get_valid_next_url_from_request(request)
    parent = page.get_parent()
    return redirect(
        back or reverse("wagtailadmin_explore", args=[parent.pk if parent else page.pk])
    )


@hooks.register(SITE_CONFIGURE_HOOK)
def organizations_site_configure(*, home: HomePage) -> list[str]:
    """Under Home, the one Organizations index, and the "B2B staff" group with exactly its
    permissions on it (``configure_wagtail``; idempotent). Returns what it did."""
    index, created = organization_index_ensure(home=home)
    actions = [f"Created the Organizations index under Home (id {index.pk})."] if created else []
    return actions + staff_group_ensure(index=index).actions


@hooks.register("register_log_actions")
def register_b2b_log_actions(actions: Any) -> None:
    """Our audit actions, shown in each page's History and the site history report."""
    for action, label in AUDIT_ACTIONS.items():

        @actions.register_action(PREFIX + action)
        class _Formatter:
            def __init__(self, label: str = label) -> None:
                self.label = label

            def format_message(self, log_entry: Any) -> str:
                data = log_entry.data or {}
                via, changes = via_label(data.get("via", "")), changes_text(data.get("changes", {}))
                # The user column names the person; a process (a task, a command) is named here.
                by = "" if log_entry.user_id else f", by {data.get('actor') or 'a process'}"
                return f"{self.label}{': ' + changes if changes else ''} (through {via}{by})"

            def format_comment(self, log_entry: Any) -> str:
                return ""


@hooks.register("before_delete_page")
def refuse_deleting_pages_in_use(request: HttpRequest, page: Page) -> HttpResponse | None:
    try:
        page_delete_check(page)
    except DomainError as exc:
        return _refuse(request, exc, page)
    if request.method == "POST":
        # Wagtail's delete view runs in one transaction: the entry goes if the page stays.
        page_deleted_record(page, page_id=page.pk)
    return None


@hooks.register("before_move_page")
def refuse_moving_contracts(
    request: HttpRequest, page: Page, destination: Page
) -> HttpResponse | None:
    try:
        page_move_check(page, destination)
    except DomainError as exc:
        return _refuse(request, exc, page)
    return None


@hooks.register("before_bulk_action")
def refuse_bulk_changes(
    request: HttpRequest, action_type: str, objects: list[Any], action: Any
) -> HttpResponse | None:
    if action_type not in ("delete", "move", "unpublish"):
        return None
    for page in objects:
        if not isinstance(page, Page) or not issubclass(page.specific_class, B2B_PAGES):
            continue
        try:
            if action_type == "delete":
                page_delete_check(page)
            elif action_type == "unpublish":
                raise DomainError(
                    f"{page.title!r} is not unpublished: a contract is in force while it is "
                    "active and within its dates. Untick Active on the contract and publish."
                )
            else:
                raise DomainError(
                    f"{page.title!r} cannot be moved with a bulk action: organizations and "
                    "contracts stay where they are."
                )
        except DomainError as exc:
            return _refuse(request, exc, page)
    return None


@hooks.register("before_copy_page")
def copy_contracts_fresh(request: HttpRequest, page: Page) -> HttpResponse | None:
    """Organizations are not copied; a contract copy is a new, inactive contract (no learners,
    runs, products or codes), made by ``contract_copy`` rather than Wagtail's deep copy."""
    specific = page.specific
    if isinstance(specific, OrganizationPage):
        try:
            organization_copy_refuse(specific)
        except DomainError as exc:
            return _refuse(request, exc, page)
    if not isinstance(specific, ContractPage) or request.method != "POST":
        return None
    form = ContractCopyForm(request.POST, page=page, user=request.user)
    if not form.is_valid():
        return None  # Wagtail's view shows the form again, with its errors
    parent = form.cleaned_data["new_parent_page"].specific
    if not isinstance(parent, OrganizationPage):
        return None
    copy = contract_copy(
        specific,
        organization=parent,
        name=form.cleaned_data["new_title"],
        slug=form.cleaned_data["new_slug"],
    )
    messages.success(
        request,
        f"Contract {copy.name!r} created from {specific.name!r}: it is inactive, with no "
        "learners, runs or codes. Add courseware, then activate it.",
    )
    return redirect("wagtailadmin_pages:edit", copy.pk)


@hooks.register("before_edit_page")
def keep_the_organizations_page(request: HttpRequest, page: Page) -> HttpResponse | None:
    """The Organizations page is set up by ``configure_wagtail``: only superusers edit it.
    A page never published is edited in place: remember its values to record the changes."""
    specific = page.specific_deferred
    if isinstance(specific, OrganizationIndexPage) and not request.user.is_superuser:
        messages.error(
            request,
            "The Organizations page is set up by configure_wagtail: add and edit organizations "
            "under it instead.",
        )
        return redirect("wagtailadmin_explore", page.pk)
    if (
        request.method == "POST"
        and not page.live
        and isinstance(specific, OrganizationPage | ContractPage)
    ):
        request._b2b_before_edit = page_publish_begin(specific)  # type: ignore[attr-defined]
    return None


@hooks.register("after_edit_page")
def record_unpublished_edit(request: HttpRequest, page: Page) -> None:
    before = getattr(request, "_b2b_before_edit", None)
    if before is not None:
        page_unpublished_edit_record(page.specific, before, user=request.user)


def _edit_view(request: HttpRequest) -> bool:
    # Wagtail's edit view publishes with its own action, not the page's ``publish``: the other
    # publishing paths (create view, bulk, schedule, workflow) go through the page's publish.
    match = request.resolver_match
    return match is not None and match.view_name == "wagtailadmin_pages:edit"


@hooks.register("before_publish_page")
def remember_live_values(request: HttpRequest, page: Page) -> None:
    if _edit_view(request) and isinstance(page, OrganizationPage | ContractPage):
        request._b2b_before_publish = page_publish_begin(page)  # type: ignore[attr-defined]


@hooks.register("after_publish_page")
def record_published_changes(request: HttpRequest, page: Page) -> None:
    before = getattr(request, "_b2b_before_publish", None)
    if before is not None and isinstance(page, OrganizationPage | ContractPage):
        try:
            page_publish_end(page, before, user=request.user)
        except DomainError as exc:  # the form checked this moments ago: a race, said plainly
            messages.error(request, exc.message)


@hooks.register("after_create_page")
def record_created_page(request: HttpRequest, page: Page) -> None:
    page_created_record(page)


@hooks.register("register_admin_urls")
def contract_admin_urls() -> list[Any]:
    """The contract's own pages: overview, courseware, codes, learners, history
    (``b2b.staff_views``), under ``/cms/b2b/contracts/<id>/``."""
    return [
        path(
            "b2b/contracts/",
            include(
                (staff_views.urlpatterns_for_admin(), "b2b_contract"), namespace="b2b_contract"
            ),
        ),
        path(
            "b2b/organizations/",
            include(
                (organization_views.urlpatterns_for_admin(), "b2b_organization"),
                namespace="b2b_organization",
            ),
        ),
    ]


def _manages(user: Any) -> bool:
    return staff_can_manage(user)


@hooks.register("register_page_header_buttons")
def contract_header_buttons(page: Page, user: Any, view_name: str, next_url: str | None = None):  # type: ignore[no-untyped-def]
    """On a contract's edit page: its courseware, codes, learners and history."""
    if page.specific_class is ContractPage and _manages(user):
        yield HeaderButton(
            "Courseware, codes and learners",
            reverse("b2b_contract:overview", args=[page.pk]),
            icon_name="list-ul",
            priority=5,
        )
    if page.specific_class is OrganizationPage and _manages(user):
        yield HeaderButton(
            "Managers",
            reverse("b2b_organization:managers", args=[page.pk]),
            icon_name="group",
            priority=5,
        )


@hooks.register("register_page_listing_buttons")
def contract_listing_buttons(page: Page, user: Any, next_url: str | None = None):  # type: ignore[no-untyped-def]
    if page.specific_class is ContractPage and _manages(user):
        yield ListingButton(
            "Manage",
            reverse("b2b_contract:overview", args=[page.pk]),
            icon_name="list-ul",
            priority=15,
            attrs={"aria-label": f"Courseware, codes and learners of {page.title}"},
        )
    if page.specific_class is OrganizationPage and _manages(user):
        yield ListingButton(
            "Managers",
            reverse("b2b_organization:managers", args=[page.pk]),
            icon_name="group",
            priority=15,
            attrs={"aria-label": f"Managers of {page.title}"},
        )


@hooks.register("construct_page_action_menu")
def publish_first(menu_items: list[Any], request: HttpRequest, context: dict[str, Any]) -> None:
    """Organizations and contracts: Publish is the primary action (a draft changes nothing a
    learner sees), and there is no Unpublish (in force is ``active`` and the dates)."""
    page, parent = context.get("page"), context.get("parent_page")
    if page is not None:
        b2b = page.specific_class in (OrganizationPage, ContractPage)
    else:  # the create view: what goes under the Organizations page or an organization
        b2b = parent is not None and parent.specific_class in (
            OrganizationIndexPage,
            OrganizationPage,
        )
    if not b2b:
        return
    menu_items[:] = [item for item in menu_items if item.name != "action-unpublish"]
    publish = [item for item in menu_items if item.name == "action-publish"]
    if publish:
        menu_items.remove(publish[0])
        menu_items.insert(0, publish[0])


@hooks.register("construct_page_listing_buttons")
def no_unpublish_in_listings(
    buttons: list[Any], page: Page, user: Any, context: Any = None
) -> None:
    if issubclass(page.specific_class or Page, OrganizationPage | ContractPage):
        buttons[:] = [b for b in buttons if "unpublish" not in (getattr(b, "url", "") or "")]


@hooks.register("before_unpublish_page")
def refuse_unpublishing(request: HttpRequest, page: Page) -> HttpResponse | None:
    if issubclass(page.specific_class or Page, OrganizationPage | ContractPage):
        messages.error(
            request,
            "Organizations and contracts are not unpublished: a contract is in force while it is "
            "active and within its dates. Untick Active on the contract and publish to stop it.",
        )
        return redirect("wagtailadmin_pages:edit", page.pk)
    return None
