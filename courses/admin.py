"""Catalog upkeep in the Django Admin: courses, course runs (staff flag source runs here), programs.

Contract runs are made and moved by the b2b commands, so their contract and key are read-only here,
and so is every run's tag once the run exists (it is part of the key). A staff member who is not a
superuser changes one thing on a run: whether it is its course's source run (SPEC §7); the
public catalog's titles, dates and visibility are a superuser's.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from courses.models import Course, CourseRun, Program, ProgramRequirement


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("readable_id", "title", "live")
    list_filter = ("live",)
    search_fields = ("readable_id", "title")


class CourseRunForm(forms.ModelForm):
    class Meta:
        model = CourseRun
        fields = (
            "course",
            "courseware_id",
            "run_tag",
            "title",
            "start_date",
            "end_date",
            "enrollment_start",
            "enrollment_end",
            "live",
            "is_self_paced",
            "is_source_run",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for start, end in (("start_date", "end_date"), ("enrollment_start", "enrollment_end")):
            began = cleaned.get(start, getattr(self.instance, start, None))
            ends = cleaned.get(end)
            if end in self.fields and began and ends and ends < began:
                self.add_error(end, f"It must not be before the {start.replace('_', ' ')}.")
        course = cleaned.get("course") or getattr(self.instance, "course", None)
        if cleaned.get("is_source_run") and course is not None:
            if self.instance.is_b2b:
                self.add_error(
                    "is_source_run",
                    "A contract run cannot be a source run: flag the course's SOURCE run instead.",
                )
            other = (
                CourseRun.objects.filter(course=course, is_source_run=True)
                .exclude(pk=self.instance.pk)
                .first()
            )
            if other is not None:
                self.add_error(
                    "is_source_run",
                    f"{course.readable_id} already has a source run ({other.courseware_id}): "
                    "untick it there first (a course has one source run).",
                )
        return cleaned


#: What a staff member who is not a superuser sees read-only on a run: all but ``is_source_run``.
STAFF_READ_ONLY = tuple(f for f in CourseRunForm.Meta.fields if f != "is_source_run")


@admin.register(CourseRun)
class CourseRunAdmin(admin.ModelAdmin):
    form = CourseRunForm
    list_display = (
        "courseware_id",
        "title",
        "is_source_run",
        "live",
        "is_b2b",
        "b2b_contract",
        "edx_status",
    )
    list_filter = ("is_source_run", "is_b2b", "live", "edx_status")
    list_select_related = ("course", "b2b_contract")
    search_fields = ("courseware_id", "title", "course__readable_id")
    raw_id_fields = ("course",)
    readonly_fields = (
        "b2b_contract",
        "is_b2b",
        "edx_status",
        "edx_error",
        "created_on",
        "updated_on",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            # The key is the run's identity in edX; the run tag is the key's last part.
            fields += ("course", "courseware_id", "run_tag")
        if not request.user.is_superuser:
            fields += tuple(name for name in STAFF_READ_ONLY if name not in fields)
        return fields


class ProgramRequirementInline(admin.TabularInline):
    """The requirements tree as ``load_catalog`` wrote it (read-only)."""

    model = ProgramRequirement
    fk_name = "program"
    fields = ("id", "parent", "node_type", "operator", "min_required", "course", "required_program")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("course", "required_program", "program")


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("readable_id", "title", "live")
    list_filter = ("live",)
    search_fields = ("readable_id", "title")
    inlines = [ProgramRequirementInline]
