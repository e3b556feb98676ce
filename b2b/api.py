"""``/api/v0/enrollments/``: the learner's enrollments, and enrolling without a code.

``POST`` ``{"run": "<courseware ID>"}`` enrolls through ``enrollment_request``: a contract run
only by the contract's rules (``code-required`` for anyone but a learner attached to a free SSO
contract), a public run while it is open. Session authentication with CSRF; refusals are 4xx
``{"code", "message"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from b2b.services.enrollments import enrollment_request
from courses.models import CourseRunEnrollment
from courses.services import enrollments_list, run_get
from main.api import DomainAPIView, RefusalSerializer


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
