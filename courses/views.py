"""The public catalog API: courses and their public runs. B2B and source runs never appear."""

from django.db.models import Prefetch
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny

from courses.models import Course, CourseRun


class PublicRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CourseRun
        fields = [
            "courseware_id",
            "run_tag",
            "title",
            "start_date",
            "end_date",
            "enrollment_start",
            "enrollment_end",
            "is_self_paced",
        ]


class PublicCourseSerializer(serializers.ModelSerializer):
    runs = PublicRunSerializer(many=True, source="public_runs")

    class Meta:
        model = Course
        fields = ["readable_id", "title", "runs"]


class PublicCourseViewSet(viewsets.ReadOnlyModelViewSet):
    """``GET /api/v0/courses/``: the public catalog (SPEC §1: contract runs are never in it)."""

    serializer_class = PublicCourseSerializer
    permission_classes = [AllowAny]
    lookup_field = "readable_id"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Course.objects.filter(live=True).prefetch_related(
            Prefetch("runs", queryset=CourseRun.objects.public(), to_attr="public_runs")
        )
