"""``/api/v0/enrollments/``: the learner's enrollments, and enrolling without a code;
``/api/v0/contracts/join/``: joining a contract with a code.

``POST /api/v0/enrollments/`` ``{"run": "<courseware ID>"}`` enrolls through
``enrollment_request``: a contract run only by the contract's rules (``code-required`` for anyone
not attached to the contract; ``run-not-enrollable`` for a priced contract's run, which is bought
through the basket), a public run while it is open. ``POST /api/v0/contracts/join/``
``{"code"}`` attaches the learner to the code's contract (``contract_join``; the code throttle
applies). Session authentication with CSRF; refusals are 4xx ``{"code", "message"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from b2b.services.enrollments import enrollment_request
from b2b.services.my_courses import contract_url
from b2b.services.redemption import contract_join
from courses.models import CourseRunEnrollment
from courses.services import enrollments_list, run_get
from ecommerce.api import CODE_REFUSALS, CodeSerializer
from ecommerce.throttles import code_attempt_check
from main.api import DomainAPIView, RefusalSerializer
from main.http import AuthenticatedRequest
from openedx.api import courseware_url


class EnrollmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.CharField(help_text="The course run's courseware ID.")
    course = serializers.CharField(help_text="The course's readable ID.")
    title = serializers.CharField()
    start_date = serializers.DateTimeField(allow_null=True)
    end_date = serializers.DateTimeField(allow_null=True)
    contract = serializers.CharField(allow_null=True, help_text="The contract's name, if any.")
    organization = serializers.CharField(allow_null=True)
    edx_status = serializers.CharField()
    created_on = serializers.DateTimeField()
    courseware_url = serializers.URLField(
        allow_null=True,
        help_text="Where the learner opens the course in the LMS (OPENEDX_LMS_URL); null when "
        "no LMS address is set.",
    )


class EnrollRequestSerializer(serializers.Serializer):
    run = serializers.CharField(max_length=255, help_text="The course run's courseware ID.")


def enrollment_data(enrollment: CourseRunEnrollment) -> dict[str, Any]:
    run = enrollment.run
    contract = run.b2b_contract
    when = serializers.DateTimeField()
    return {
        "id": enrollment.pk,
        "run": run.courseware_id,
        "course": run.course.readable_id,
        "title": run.title,
        "start_date": when.to_representation(run.start_date) if run.start_date else None,
        "end_date": when.to_representation(run.end_date) if run.end_date else None,
        "contract": contract.name if contract else None,
        "organization": contract.organization.name if contract else None,
        "edx_status": enrollment.edx_status,
        "created_on": when.to_representation(enrollment.created_on),
        "courseware_url": courseware_url(run.courseware_id),
    }


class EnrollmentsView(DomainAPIView):
    @extend_schema(responses={200: EnrollmentSerializer(many=True), 403: RefusalSerializer})
    def get(self, request: Request) -> Response:
        return Response([enrollment_data(e) for e in enrollments_list(request.user)])

    @extend_schema(
        request=EnrollRequestSerializer,
        responses={
            201: EnrollmentSerializer,
            400: RefusalSerializer,
            403: RefusalSerializer,
            404: RefusalSerializer,
            409: RefusalSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = EnrollRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = run_get(data.validated_data["run"].strip())
        enrollment = enrollment_request(request.user, run=run)
        enrollment = CourseRunEnrollment.objects.select_related(
            "run__course", "run__b2b_contract__organization"
        ).get(pk=enrollment.pk)
        return Response(enrollment_data(enrollment), status=status.HTTP_201_CREATED)


class JoinSerializer(serializers.Serializer):
    contract_id = serializers.IntegerField()
    contract = serializers.CharField(help_text="The contract's name.")
    organization = serializers.CharField()
    joined = serializers.BooleanField(
        help_text="True: attached just now, the code spent; false: attached already, the code "
        "left unused."
    )
    next = serializers.CharField(help_text="The contract on My courses, where the learner enrolls.")


class JoinView(DomainAPIView):
    """``POST {"code"}``: join the code's contract (SPEC §5): 201 attached now, 200 attached
    already. Refusals as the basket's code: ``invalid-code``, ``code-deactivated``,
    ``contract-inactive``, ``code-used``, ``contract-full``, ``product-unavailable``, 429
    ``too-many-attempts``."""

    @extend_schema(
        request=CodeSerializer,
        responses={201: JoinSerializer, 200: JoinSerializer, **CODE_REFUSALS},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        code_attempt_check(request)
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = contract_join(request.user, code=data.validated_data["code"])
        return Response(
            {
                "contract_id": result.contract.id,
                "contract": result.contract.name,
                "organization": result.contract.organization_name,
                "joined": result.joined,
                "next": contract_url(result.contract.id),
            },
            status=status.HTTP_201_CREATED if result.joined else status.HTTP_200_OK,
        )
