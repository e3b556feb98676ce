"""Organizations, contracts and contract memberships in the Django Admin: view only (SPEC §7)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from b2b.admin.base import ViewOnlyAdmin, history_table, wagtail_link
from b2b.models import ContractMembership, ContractPage, OrganizationPage
from b2b.services.overview import contract_overview


class ContractAutocompleteSelect(AutocompleteSelect):
    """The contract picker of the User page, asking ``ContractAutocomplete``."""

    url_name = "%s:b2b_contract_autocomplete"


class ContractAutocomplete(AutocompleteJsonView):
    """The User page's contract picker: "Acme 2026 — Acme University (ID 7)"."""

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("organization")

    def serialize_result(self, obj: Any, to_field_name: str) -> dict[str, str]:
        return {
            "id": str(getattr(obj, to_field_name)),
            "text": f"{obj.name} — {obj.organization.name} (ID {obj.pk})",
        }


@admin.register(OrganizationPage)
class OrganizationPageAdmin(ViewOnlyAdmin):
    list_display = ("name", "org_key", "sso_organization_id", "contract_count", "id")
    search_fields = ("name", "org_key", "sso_organization_id")
    ordering = ("name",)
    fields = (
        "name",
        "org_key",
        "sso_organization_id",
        "description",
        "wagtail",
        "contract_table",
        "history",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganizationPage]:
        return super().get_queryset(request).annotate(contract_total=Count("contracts"))

    @admin.display(description="contracts", ordering="contract_total")
    def contract_count(self, obj: OrganizationPage) -> int:
        return obj.contract_total

    @admin.display(description="Wagtail")
    def wagtail(self, obj: OrganizationPage) -> str:
        return wagtail_link(obj)

    @admin.display(description="contracts")
    def contract_table(self, obj: OrganizationPage) -> str:
        contracts = (
            ContractPage.objects.filter(organization=obj)
            .annotate(learner_total=Count("memberships"))
            .order_by("pk")
        )
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:b2b_contractpage_change", args=[c.pk]),
                    c.name,
                    c.integration_type,
                    "yes" if c.active else "no",
                    c.learner_total,
                    c.max_learners if c.max_learners is not None else "uncapped",
                )
                for c in contracts
            ),
        )
        return format_html(
            "<table><thead><tr><th>Contract</th><th>Type</th><th>Active</th><th>Learners</th>"
            "<th>Cap</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="history")
    def history(self, obj: OrganizationPage) -> str:
        return history_table(obj.pk)


@admin.register(ContractPage)
class ContractPageAdmin(ViewOnlyAdmin):
    # Few, short columns: the list fits beside the admin's navigation at 1280 px.
    list_display = (
        "name",
        "organization",
        "integration_type",
        "active",
        "dates",
        "learner_count",
        "enrollment_fixed_price",
        "id",
    )
    list_filter = ("organization", "integration_type", "active")
    list_select_related = ("organization",)
    search_fields = ("name", "organization__name", "organization__org_key")
    ordering = ("organization__name", "pk")
    fields = (
        "name",
        "organization",
        "integration_type",
        "active",
        "contract_start",
        "contract_end",
        "max_learners",
        "enrollment_fixed_price",
        "description",
        "wagtail",
        "learners",
        "codes",
        "courseware",
        "history",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContractPage]:
        return super().get_queryset(request).annotate(learner_total=Count("memberships"))

    def get_urls(self) -> list[Any]:
        picker = self.admin_site.admin_view(
            ContractAutocomplete.as_view(admin_site=self.admin_site)
        )
        return [
            path("autocomplete/", picker, name="b2b_contract_autocomplete"),
            *super().get_urls(),
        ]

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "contractmembership":
            # The User page's autocomplete offers only contracts that take learners.
            queryset = queryset.filter(active=True)
        return queryset, distinct

    @admin.display(description="learners", ordering="learner_total")
    def learner_count(self, obj: ContractPage) -> str:
        """``"12 of 200"``, or ``"12"`` when uncapped."""
        cap = obj.max_learners
        return f"{obj.learner_total} of {cap}" if cap is not None else str(obj.learner_total)

    @admin.display(description="dates", ordering="contract_start")
    def dates(self, obj: ContractPage) -> str:
        """``"1 Jan 2026 – 31 Dec 2026"``; an open start or end reads "—"."""
        if obj.contract_start is None and obj.contract_end is None:
            return "—"
        start, end = (
            date_format(day, "j M Y") if day else "—"
            for day in (obj.contract_start, obj.contract_end)
        )
        return f"{start} – {end}"

    @admin.display(description="Wagtail")
    def wagtail(self, obj: ContractPage) -> str:
        return wagtail_link(obj)

    def _overview(self, obj: ContractPage) -> Any:
        if getattr(obj, "_overview", None) is None:
            obj._overview = contract_overview(obj)  # type: ignore[attr-defined]
        return obj._overview  # type: ignore[attr-defined]

    @admin.display(description="learners")
    def learners(self, obj: ContractPage) -> str:
        url = reverse("admin:b2b_contractmembership_changelist") + f"?contract__id__exact={obj.pk}"
        return format_html(
            '<span data-b2b="learners">{}</span> — <a href="{}">list them</a>',
            self._overview(obj).learners_text,
            url,
        )

    @admin.display(description="enrollment codes")
    def codes(self, obj: ContractPage) -> str:
        counts = self._overview(obj).codes
        url = reverse("admin:ecommerce_discount_changelist") + f"?contract={obj.pk}"
        return format_html(
            '<span data-b2b="codes">{} usable, {} redeemed, {} deactivated</span> '
            '(<a href="{}">{} codes</a>)',
            counts.usable,
            counts.redeemed,
            counts.deactivated,
            url,
            counts.total,
        )

    @admin.display(description="courseware")
    def courseware(self, obj: ContractPage) -> str:
        rows = self._overview(obj).courseware
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r["type"],
                    r["readable_id"],
                    r["run"] or "—",
                    r["title"],
                    r["codes"] or 0,
                    r["edx_status"] or "—",
                )
                for r in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>Type</th><th>Readable ID</th><th>Run</th><th>Title</th>"
            "<th>Usable codes</th><th>edX status</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="history")
    def history(self, obj: ContractPage) -> str:
        return history_table(obj.pk)


@admin.register(ContractMembership)
class ContractMembershipAdmin(ViewOnlyAdmin):
    """Who is attached to which contract (add and remove on the User page)."""

    list_display = ("user", "learner_name", "contract", "organization", "source", "created_on")
    list_filter = ("source", "contract")
    list_select_related = ("user", "contract__organization")
    search_fields = ("user__email", "user__username", "user__name", "contract__name")
    ordering = ("-created_on", "-pk")

    @admin.display(description="name", ordering="user__name")
    def learner_name(self, obj: ContractMembership) -> str:
        return obj.user.name

    @admin.display(description="organization", ordering="contract__organization__name")
    def organization(self, obj: ContractMembership) -> str:
        return obj.contract.organization.name
