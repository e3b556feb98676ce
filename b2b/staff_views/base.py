"""What every contract page shares: who may use them (``staff_required``), the tabs, and the
page's frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from b2b.models import ContractPage
from b2b.services.staff import STAFF_GROUP

CODES_PER_PAGE = 50
STATUSES = ("usable", "redeemed", "deactivated")
TABS = (
    ("overview", "Overview"),
    ("courseware", "Courseware"),
    ("codes", "Enrollment codes"),
    ("learners", "Learners"),
    ("history", "History"),
)


def staff_can_manage(user: Any) -> bool:
    """B2B staff (the "B2B staff" group) and superusers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=STAFF_GROUP).exists()


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view for B2B staff and superusers only (others: 403), given the contract of the URL's
    ``contract_id`` (404 for an unknown one)."""

    def wrapped(request: HttpRequest, contract_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        if not staff_can_manage(request.user):
            raise PermissionDenied("Only B2B staff and superusers manage contracts.")
        contract = ContractPage.objects.filter(pk=contract_id).select_related("organization")
        found = contract.first()
        if found is None:
            raise Http404(f"No contract with ID {contract_id}.")
        return view(request, found, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def page_url(name: str, contract: ContractPage, **query: Any) -> str:
    """The URL of one of the contract's tabs, with a query string."""
    url = reverse(f"b2b_contract:{name}", args=[contract.pk])
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def page_render(
    request: HttpRequest, contract: ContractPage, tab: str, template: str, **context: Any
) -> HttpResponse:
    """Render a tab of the contract's pages in their common frame."""
    title = dict(TABS)[tab]
    context.update(
        contract=contract,
        organization=contract.organization,
        tab=tab,
        tabs=[(name, label, page_url(name, contract)) for name, label in TABS],
        header_title=f"{title}: {contract.name}",
        page_title=title,
        page_subtitle=contract.name,
        header_icon="doc-full-inverse",
        edit_url=reverse("wagtailadmin_pages:edit", args=[contract.pk]),
        in_force=contract.is_in_force(),
        plan_url=reverse("b2b_contract:courseware_plan", args=[contract.pk]),
    )
    return render(request, f"b2b/contract/{template}", context)
