"""The User page: a learner's contract memberships, added and removed through
``b2b.services.memberships`` (SPEC §7)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from b2b.admin.contracts import ContractAutocompleteSelect
from b2b.models import ContractMembership
from b2b.services.memberships import membership_add, membership_check, membership_remove
from main.actors import actor_current
from main.admin import UserAdmin
from main.exceptions import DomainError
from main.models import User


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
