"""The organization's Managers page in the Wagtail admin (SPEC §9): who manages it, grant by
email, remove. Linked from the organization's edit page and the page listing
(``b2b.wagtail_hooks``). Only B2B staff and superusers (403 otherwise); the changes go through
``b2b.services.managers`` with the person as actor (via ``wagtail``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from wagtail.admin import messages

from b2b.models import OrganizationPage
from b2b.services.managers import managers_add, managers_list, managers_remove
from b2b.staff_views import staff_can_manage
from main.actors import actor_current
from main.exceptions import DomainError


class ManagerForm(forms.Form):
    email = forms.EmailField(label="Manager's email address")


def _organization(request: HttpRequest, organization_id: int) -> OrganizationPage:
    if not staff_can_manage(request.user):
        raise PermissionDenied("Only B2B staff and superusers grant managers.")
    organization = OrganizationPage.objects.filter(pk=organization_id).first()
    if organization is None:
        raise Http404(f"No organization with ID {organization_id}.")
    return organization


def managers(request: HttpRequest, organization_id: int) -> HttpResponse:
    """The managers, and a form to add one; POST ``email`` adds."""
    organization = _organization(request, organization_id)
    form = ManagerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            (change,) = managers_add(organization.pk, [email], actor=actor_current())
        except DomainError as exc:
            form.add_error("email", exc.message)
        else:
            text = {
                "added": f"{change.email} now manages {organization.name}; they were mailed.",
                "invited": f"{change.email} now manages {organization.name}. They have no "
                "account yet: they were mailed an invitation to sign up.",
                "already-manager": f"{change.email} already manages {organization.name}.",
            }[change.outcome]
            (messages.warning if change.outcome == "already-manager" else messages.success)(
                request, text
            )
            return redirect("b2b_organization:managers", organization.pk)
    context: dict[str, Any] = {
        "organization": organization,
        "form": form,
        "rows": managers_list(organization.pk),
        "remove_url": reverse("b2b_organization:manager_remove", args=[organization.pk]),
        "edit_url": reverse("wagtailadmin_pages:edit", args=[organization.pk]),
        "header_title": f"Managers: {organization.name}",
        "page_title": "Managers",
        "page_subtitle": organization.name,
        "header_icon": "group",
    }
    return render(request, "b2b/organization/managers.html", context)


def manager_remove(request: HttpRequest, organization_id: int) -> HttpResponse:
    """POST ``email``: remove that manager."""
    organization = _organization(request, organization_id)
    if request.method == "POST":
        email = request.POST.get("email", "")
        try:
            (change,) = managers_remove(organization.pk, [email], actor=actor_current())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if change.outcome == "removed":
                messages.success(request, f"{change.email} no longer manages {organization.name}.")
            else:
                messages.warning(request, f"{change.email} was not a manager: nothing changed.")
    return redirect("b2b_organization:managers", organization.pk)


def urlpatterns_for_admin() -> list[Any]:
    """Mounted under ``/cms/b2b/organizations/`` by ``register_admin_urls``."""
    return [
        path("<int:organization_id>/managers/", managers, name="managers"),
        path("<int:organization_id>/managers/remove/", manager_remove, name="manager_remove"),
    ]
