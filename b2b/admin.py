"""The Django Admin's B2B pages (SPEC §7).

- Organizations and contracts: view only, for everyone (superusers too): they are edited in
  Wagtail and with the commands, which keep runs, products and codes in step.
- Contract memberships: listed read-only; staff add (source ``manual``) and remove them on the
  User page, through ``b2b.services.memberships`` (the cap, the contract-row lock, the audit).
- Enrollment codes: read-only, searchable by code, filtered by contract and state.
- Course runs: ``courses.admin.CourseRunAdmin``, whose saves go through
  ``b2b.services.runs.course_run_change`` (a contract run's change lands in the contract's
  history, and its title, pacing and dates go to Open edX).

Every list and detail page runs a bounded number of queries, whatever the number of learners,
runs or codes (counts are aggregated in the list's own query; details use fixed queries).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from b2b.models import ContractMembership, ContractPage, OrganizationPage
from b2b.services.audit import AUDIT_ACTIONS, audit_history, changes_text, via_label
from b2b.services.memberships import membership_add, membership_check, membership_remove
from b2b.services.overview import contract_overview
from b2b.services.runs import course_run_change
from courses.admin import CourseRunAdmin
from courses.models import CourseRun
from ecommerce.models import Discount, DiscountProduct, code_redeemed
from main.actors import actor_current
from main.admin import UserAdmin
from main.exceptions import DomainError
from main.models import User
from main.params import id_parse

HISTORY_SHOWN = 20


class ViewOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, for anyone: the model is changed elsewhere."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _wagtail_link(page: Any) -> str:
    return format_html(
        '<a href="{}">Edit in Wagtail</a>', reverse("wagtailadmin_pages:edit", args=[page.pk])
    )


def _history_table(page_id: int) -> str:
    entries = audit_history(page_id)[-HISTORY_SHOWN:][::-1]
    if not entries:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                date_format(localtime(e.at), "DATETIME_FORMAT"),
                e.who,
                via_label(e.via),
                AUDIT_ACTIONS.get(e.action, e.action),
                changes_text(e.changes),
            )
            for e in entries
        ),
    )
    return format_html(
        "<table><thead><tr><th>When</th><th>Who</th><th>Through</th><th>What</th>"
        "<th>Changes</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


# -- organizations and contracts -----------------------------------------------------------------


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
        return _wagtail_link(obj)

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
        return _history_table(obj.pk)


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
        return _wagtail_link(obj)

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
        return _history_table(obj.pk)


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


# -- enrollment codes ----------------------------------------------------------------------------


class ContractFilter(admin.SimpleListFilter):
    title = "contract"
    parameter_name = "contract"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        contracts = ContractPage.objects.select_related("organization").order_by(
            "organization__name", "pk"
        )
        return [(str(c.pk), f"{c.organization.name} — {c.name} ({c.pk})") for c in contracts]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Discount]) -> Any:
        try:
            contract_id = id_parse(self.value() or "")
        except ValueError:
            return queryset  # no contract, or not an ID (main.params): every code
        return queryset.filter(product_links__product__course_run__b2b_contract_id=contract_id)


class CodeStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("usable", "usable"), ("redeemed", "redeemed"), ("deactivated", "deactivated")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Discount]) -> Any:
        states = {
            "usable": queryset.usable,
            "redeemed": queryset.redeemed,
            "deactivated": lambda: queryset.filter(is_active=False),
        }
        return states[self.value()]() if self.value() in states else queryset


@admin.register(Discount)
class EnrollmentCodeAdmin(ViewOnlyAdmin):
    """Enrollment codes (discounts), read-only: the code adjustment alone writes them."""

    list_display = (
        "discount_code",
        "product_description",
        "contract_name",
        "state",
        "redemption_type",
        "amount",
        "activation_date",
        "expiration_date",
    )
    list_filter = (ContractFilter, CodeStateFilter, "redemption_type")
    search_fields = ("=discount_code",)
    ordering = ("-pk",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Discount]:
        link = DiscountProduct.objects.filter(discount=OuterRef("pk")).order_by("pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                redeemed=code_redeemed(),
                product_text=Subquery(link.values("product__description")[:1]),
                contract_text=Subquery(link.values("product__course_run__b2b_contract__title")[:1]),
            )
        )

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        # Codes are typed with stray spaces and in any case; they are stored lowercase (UUIDs).
        return super().get_search_results(request, queryset, search_term.strip().lower())

    @admin.display(description="product")
    def product_description(self, obj: Discount) -> str:
        return obj.product_text or "—"

    @admin.display(description="contract")
    def contract_name(self, obj: Discount) -> str:
        return obj.contract_text or "—"

    @admin.display(description="state")
    def state(self, obj: Discount) -> str:
        if not obj.is_active:
            return "deactivated"
        if obj.redeemed:
            return "redeemed" + (
                " (unlimited, usable)" if obj.redemption_type == "unlimited" else ""
            )
        return "usable"


# -- the User page: contract memberships ---------------------------------------------------------


class ContractMembershipInline(admin.TabularInline):
    """The user's contracts: contract, organization, source, since when; staff may remove one."""

    model = ContractMembership
    verbose_name = "contract membership"
    verbose_name_plural = "contract memberships"
    fields = ("contract_link", "organization", "source", "since", "learners")
    readonly_fields = fields
    extra = 0
    can_delete = True

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            # The row's own label reads the user and the contract: one query for all rows.
            .select_related("user", "contract__organization")
            .annotate(contract_learners=Count("contract__memberships"))
            .order_by("created_on", "pk")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_delete_permission(request, obj)

    @admin.display(description="contract")
    def contract_link(self, obj: ContractMembership) -> str:
        url = reverse("admin:b2b_contractpage_change", args=[obj.contract_id])
        return format_html('<a href="{}">{} (ID {})</a>', url, obj.contract.name, obj.contract_id)

    @admin.display(description="organization")
    def organization(self, obj: ContractMembership) -> str:
        return obj.contract.organization.name

    @admin.display(description="since")
    def since(self, obj: ContractMembership) -> Any:
        return date_format(localtime(obj.created_on), "DATETIME_FORMAT")

    @admin.display(description="learners")
    def learners(self, obj: ContractMembership) -> str:
        cap = obj.contract.max_learners
        return (
            f"{obj.contract_learners} of {cap}" if cap is not None else f"{obj.contract_learners}"
        )


class MembershipAddForm(forms.ModelForm):
    """One new membership: the contract is checked as ``membership_add`` will (inactive, full,
    already attached) so the refusal shows on the field; saving goes through the service."""

    class Meta:
        model = ContractMembership
        fields = ("contract",)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        contract = cleaned.get("contract")
        user = getattr(self.instance, "user", None)
        if contract is not None and user is not None:
            try:
                membership_check(user, contract=contract)
            except DomainError as exc:
                self.add_error("contract", exc.message)
        return cleaned

    def validate_unique(self) -> None:
        pass  # membership_check says it in words; the unique constraint still holds


class ContractMembershipAddInline(admin.TabularInline):
    """Attach the user to a contract (source ``manual``): pick it by name with the autocomplete."""

    model = ContractMembership
    form = MembershipAddForm
    verbose_name = "new contract membership"
    verbose_name_plural = "add a contract membership"
    fields = ("contract",)
    autocomplete_fields = ("contract",)
    extra = 1
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).none()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "contract":
            kwargs["widget"] = ContractAutocompleteSelect(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)


admin.site.unregister(User)


@admin.register(User)
class B2BUserAdmin(UserAdmin):
    """The User admin with the user's contract memberships (SPEC §7: the fastest way to
    provision a learner who already has an account)."""

    inlines = [ContractMembershipInline, ContractMembershipAddInline]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ContractMembership:
            return super().save_formset(request, form, formset, change)
        user = form.instance
        actor = actor_current()  # the staff member, via="admin" (main.actors.ActorMiddleware)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms and inline_form.instance.pk:
                if membership_remove(
                    user, contract_id=inline_form.instance.contract_id, actor=actor
                ):
                    formset.deleted_objects.append(inline_form.instance)
                continue
            contract = (
                inline_form.cleaned_data.get("contract") if inline_form.has_changed() else None
            )
            if inline_form.instance.pk or contract is None:
                continue
            try:
                result = membership_add(
                    user,
                    contract_id=contract.pk,
                    source=ContractMembership.Source.MANUAL,
                    actor=actor,
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                continue
            if result.created:
                formset.new_objects.append(result.membership)
                messages.success(
                    request,
                    f"Attached {user} to {contract.name!r} (source: manual).",
                )
        return None


# -- course runs -----------------------------------------------------------------------------


admin.site.unregister(CourseRun)


@admin.register(CourseRun)
class B2BCourseRunAdmin(CourseRunAdmin):
    """The course-run admin, with a change saved by ``course_run_change``: a contract run's
    change is recorded in the contract's history and sent to Open edX (SPEC §8)."""

    def save_model(self, request: HttpRequest, obj: CourseRun, form: Any, change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        course_run_change(obj.pk, values=values)
        return None
