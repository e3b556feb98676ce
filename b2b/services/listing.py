"""What ``b2b_list`` shows: rows with exactly the keys of SPEC §2, JSON-ready values.

Each listing runs a fixed number of queries, whatever the number of learners or codes.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from b2b.models import ContractCourseware, ContractMembership, ContractPage, OrganizationPage
from b2b.services.contracts import contract_get, json_value
from b2b.services.organizations import organization_get
from courses.models import CourseRun
from ecommerce.models import DiscountProduct, Product, code_usable

ORGANIZATION_KEYS = ("id", "name", "org_key", "slug", "sso_organization_id", "contracts")
CONTRACT_KEYS = (
    "id",
    "name",
    "slug",
    "organization_id",
    "organization",
    "integration_type",
    "active",
    "start",
    "end",
    "max_learners",
    "price",
    "learners",
    "description",
)
COURSEWARE_KEYS = (
    "type",
    "readable_id",
    "run",
    "title",
    "start",
    "end",
    "product_id",
    "price",
    "codes",
    "edx_status",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def organizations_list(*, organization_id: int | None = None) -> list[dict[str, Any]]:
    """One row per organization (keys ``ORGANIZATION_KEYS``), ordered by name."""
    queryset = OrganizationPage.objects.annotate(contract_count=Count("contracts")).order_by("name")
    if organization_id is not None:
        queryset = queryset.filter(pk=organization_get(organization_id).pk)
    return [
        {
            "id": org.pk,
            "name": org.name,
            "org_key": org.org_key,
            "slug": org.slug,
            "sso_organization_id": str(org.sso_organization_id)
            if org.sso_organization_id
            else None,
            "contracts": org.contract_count,
        }
        for org in queryset
    ]


def contract_row(contract: ContractPage, *, learners: int) -> dict[str, Any]:
    """A contract as ``b2b_list contracts`` shows it (keys ``CONTRACT_KEYS``)."""
    return {
        "id": contract.pk,
        "name": contract.name,
        "slug": contract.slug,
        "organization_id": contract.organization_id,
        "organization": contract.organization.name,
        "integration_type": contract.integration_type,
        "active": contract.active,
        "start": json_value(contract.contract_start),
        "end": json_value(contract.contract_end),
        "max_learners": contract.max_learners,
        "price": json_value(contract.enrollment_fixed_price),
        "learners": learners,
        "description": contract.description,
    }


def contracts_list(*, organization_id: int | None = None) -> list[dict[str, Any]]:
    """One row per contract (keys ``CONTRACT_KEYS``), by organization then ID."""
    queryset = ContractPage.objects.select_related("organization").order_by(
        "organization__name", "pk"
    )
    if organization_id is not None:
        queryset = queryset.filter(organization=organization_get(organization_id))
    contracts = list(queryset)
    learners = dict(
        ContractMembership.objects.filter(contract__in=contracts)
        .values_list("contract_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [contract_row(c, learners=learners.get(c.pk, 0)) for c in contracts]


def courseware_list(contract_id: int) -> list[dict[str, Any]]:
    """The contract's courseware (keys ``COURSEWARE_KEYS``): one row per contract run, then one
    per program, then one per course recorded without runs. ``codes`` counts usable codes."""
    contract = contract_get(contract_id)
    runs = list(
        CourseRun.objects.filter(b2b_contract=contract)
        .select_related("course")
        .order_by("courseware_id")
    )
    products = {
        p.course_run_id: p for p in Product.objects.filter(course_run__in=runs, is_active=True)
    }
    code_counts = dict(
        DiscountProduct.objects.filter(product__in=products.values())
        .values_list("product_id")
        .annotate(n=Count("pk", filter=code_usable("discount__")))
        .order_by()
    )
    rows: list[dict[str, Any]] = []
    for run in runs:
        product = products.get(run.pk)
        rows.append(
            {
                "type": "run",
                "readable_id": run.course.readable_id,
                "run": run.courseware_id,
                "title": run.title,
                "start": _iso(run.start_date),
                "end": _iso(run.end_date),
                "product_id": product.pk if product else None,
                "price": json_value(product.price) if product else None,
                "codes": code_counts.get(product.pk, 0) if product else 0,
                "edx_status": run.edx_status,
            }
        )
    records = list(
        ContractCourseware.objects.filter(contract=contract)
        .select_related("course", "program")
        .order_by("pk")
    )
    with_runs = {run.course_id for run in runs}
    empty = dict.fromkeys(COURSEWARE_KEYS)
    for record in records:
        if record.program is not None:
            rows.append(
                {
                    **empty,
                    "type": "program",
                    "readable_id": record.program.readable_id,
                    "title": record.program.title,
                }
            )
    for record in records:
        if record.course is not None and record.course_id not in with_runs:
            rows.append(
                {
                    **empty,
                    "type": "course",
                    "readable_id": record.course.readable_id,
                    "title": record.course.title,
                }
            )
    return rows
