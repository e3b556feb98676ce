"""``/api/v0/manage/``: the managers' portal as JSON (SPEC §9), for a signed-in manager
(session authentication). The same data as ``/manage/`` through the same services
(``b2b.services.portal``):

- ``GET organizations/``: the organizations the user manages, each with its contracts' seats.
- ``GET contracts/<id>/``: one contract's seats and code counts.
- ``GET contracts/<id>/learners/?q=&source=&page=``: its learners, 50 a page.
- ``GET contracts/<id>/codes/?status=&page=``: its codes, 50 a page.
- ``GET contracts/<id>/assignments/?status=&q=&page=``: its seats assigned by email.
- ``POST contracts/<id>/assignments/`` ``{"rows": [{"email", "name"}], "dry_run": bool}``: assign
  seats (``b2b.services.assignments.seats_assign``): each row's outcome, in order; with
  ``dry_run`` nothing is written. 201 when something was assigned, else 200.

A contract of an organization the user does not manage is ``404 {"code": "contract-not-found"}``,
the same as one that does not exist. A bad filter is ``400 {"code": "invalid-input"}``.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from b2b.exceptions import ContractNotFound, InvalidContractInput
from b2b.models import ContractPage
from b2b.services.assignments import OUTCOMES, seats_assign
from b2b.services.managers import managed_organizations
from b2b.services.portal import (
    ASSIGNMENT_STATUSES,
    CODE_STATUSES,
    SOURCES,
    assignment_rows,
    code_rows,
    contract_assignments,
    contract_code_list,
    contract_learners,
    contract_seats,
    learner_rows,
    manager_contract,
    organization_contracts,
)
from main.api import DomainAPIView, RefusalSerializer
from main.params import InvalidId, id_param

PER_PAGE = 50


class ContractSeatsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    organization_id = serializers.IntegerField()
    organization = serializers.CharField()
    integration_type = serializers.CharField()
    in_force = serializers.BooleanField()
    active = serializers.BooleanField()
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    cap = serializers.IntegerField(allow_null=True, help_text="The learner cap; null: uncapped.")
    attached = serializers.IntegerField(help_text="Learners attached.")
    held = serializers.IntegerField(help_text="Seats held by orders awaiting their payment.")
    assigned = serializers.IntegerField(help_text="Seats assigned by email, not yet taken.")
    free = serializers.IntegerField(allow_null=True, help_text="Seats left; null: uncapped.")
    codes_usable = serializers.IntegerField()
    codes_assigned = serializers.IntegerField(help_text="Usable codes held for an assignee.")
    codes_redeemed = serializers.IntegerField()


class ManagedOrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    contracts = ContractSeatsSerializer(many=True)


class EnrollmentBriefSerializer(serializers.Serializer):
    run = serializers.CharField()
    title = serializers.CharField()
    active = serializers.BooleanField()


class ManagerLearnerSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField()
    source = serializers.ChoiceField(choices=SOURCES)
    since = serializers.DateTimeField()
    enrollments = EnrollmentBriefSerializer(many=True)


class ManagerCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    run = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=CODE_STATUSES)
    assigned_to = serializers.CharField(help_text="The assignee's email, or empty.")


def _page_serializer(name: str, item: serializers.Serializer) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "page": serializers.IntegerField(),
            "pages": serializers.IntegerField(),
            "results": item,
        },
    )


LearnerPageSerializer = _page_serializer("ManagerLearnerPage", ManagerLearnerSerializer(many=True))
CodePageSerializer = _page_serializer("ManagerCodePage", ManagerCodeSerializer(many=True))
PAGE_PARAM = OpenApiParameter("page", int, description="Page number, from 1 (50 a page).")


def _contract(request: Request, contract_id: int) -> ContractPage:
    found = manager_contract(request.user, contract_id)
    if found is None:
        raise ContractNotFound(f"No contract of yours has the ID {contract_id}.")
    return found


def _choice(request: Request, name: str, choices: tuple[str, ...]) -> str:
    value = request.query_params.get(name, "")
    if value and value not in choices:
        raise InvalidContractInput(f"{name} must be one of {', '.join(choices)} (got {value!r}).")
    return value


def _paginate(request: Request, items: Any) -> tuple[dict[str, Any], list[Any]]:
    number = (
        id_param(
            request.query_params,
            "page",
            message="page must be a page number from 1, not {value!r}.",
        )
        or 1
    )
    paginator = Paginator(items, PER_PAGE)
    if number > max(paginator.num_pages, 1):
        raise InvalidId(f"There are {paginator.num_pages} pages: page {number} is past the end.")
    page = paginator.page(number) if paginator.count else None
    meta = {"count": paginator.count, "page": number, "pages": paginator.num_pages}
    return meta, list(page.object_list) if page is not None else []


class OrganizationsView(DomainAPIView):
    @extend_schema(
        responses={200: ManagedOrganizationSerializer(many=True), 403: RefusalSerializer}
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "id": o.pk,
                    "name": o.name,
                    "contracts": [c.as_row() for c in organization_contracts(o)],
                }
                for o in managed_organizations(request.user)
            ]
        )


class ContractView(DomainAPIView):
    @extend_schema(responses={200: ContractSeatsSerializer, 404: RefusalSerializer})
    def get(self, request: Request, contract_id: int) -> Response:
        return Response(contract_seats(_contract(request, contract_id)).as_row())


class LearnersView(DomainAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Part of the email or name, any case."),
            OpenApiParameter("source", str, enum=list(SOURCES)),
            PAGE_PARAM,
        ],
        responses={200: LearnerPageSerializer, 400: RefusalSerializer, 404: RefusalSerializer},
    )
    def get(self, request: Request, contract_id: int) -> Response:
        contract = _contract(request, contract_id)
        source = _choice(request, "source", SOURCES)
        search = request.query_params.get("q", "").strip()[:100]
        meta, rows = _paginate(request, contract_learners(contract, search=search, source=source))
        return Response({**meta, "results": learner_rows(contract, rows)})


class CodesView(DomainAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(CODE_STATUSES)), PAGE_PARAM],
        responses={200: CodePageSerializer, 400: RefusalSerializer, 404: RefusalSerializer},
    )
    def get(self, request: Request, contract_id: int) -> Response:
        contract = _contract(request, contract_id)
        status = _choice(request, "status", CODE_STATUSES)
        meta, rows = _paginate(request, contract_code_list(contract, status=status))
        return Response({**meta, "results": code_rows(rows)})


class ManagerAssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=ASSIGNMENT_STATUSES)
    assigned_on = serializers.DateTimeField()
    reminders = serializers.IntegerField()
    mail_status = serializers.CharField(help_text="The latest invitation's delivery status.")


AssignmentPageSerializer = _page_serializer(
    "ManagerAssignmentPage", ManagerAssignmentSerializer(many=True)
)


class AssignRowSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=320)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class AssignRequestSerializer(serializers.Serializer):
    rows = AssignRowSerializer(many=True, allow_empty=False, max_length=20000)
    dry_run = serializers.BooleanField(default=False)


class AssignOutcomeSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()
    outcome = serializers.ChoiceField(choices=OUTCOMES)


class AssignReportSerializer(serializers.Serializer):
    applied = serializers.BooleanField()
    free_before = serializers.IntegerField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    rows = AssignOutcomeSerializer(many=True)


class AssignmentsView(DomainAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(ASSIGNMENT_STATUSES)),
            OpenApiParameter("q", str, description="Part of the email, any case."),
            PAGE_PARAM,
        ],
        responses={200: AssignmentPageSerializer, 400: RefusalSerializer, 404: RefusalSerializer},
    )
    def get(self, request: Request, contract_id: int) -> Response:
        contract = _contract(request, contract_id)
        status = _choice(request, "status", ASSIGNMENT_STATUSES)
        search = request.query_params.get("q", "").strip()[:100]
        meta, rows = _paginate(
            request, contract_assignments(contract, status=status, search=search)
        )
        return Response({**meta, "results": assignment_rows(rows)})

    @extend_schema(
        request=AssignRequestSerializer,
        responses={
            200: AssignReportSerializer,
            201: AssignReportSerializer,
            400: RefusalSerializer,
            404: RefusalSerializer,
            409: RefusalSerializer,
        },
    )
    def post(self, request: Request, contract_id: int) -> Response:
        contract = _contract(request, contract_id)
        body = AssignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = [(r["email"], r.get("name", "")) for r in body.validated_data["rows"]]
        report = seats_assign(contract.pk, rows, apply=not body.validated_data["dry_run"])
        return Response(
            {
                "applied": report.applied,
                "free_before": report.free_before,
                "counts": report.counts,
                "rows": [r.as_row() for r in report.rows],
            },
            status=201 if report.applied and report.count("assigned") else 200,
        )
