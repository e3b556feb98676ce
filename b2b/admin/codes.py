"""Enrollment codes in the Django Admin: read-only, searchable by code, filtered by contract and
state (SPEC §7)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from b2b.admin.base import ViewOnlyAdmin
from b2b.models import ContractPage
from ecommerce.models import Discount, DiscountProduct, code_redeemed
from main.params import id_parse


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
