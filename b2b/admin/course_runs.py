"""Course runs in the Django Admin, saved through ``b2b.services.runs.course_run_change``
(SPEC §7)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from b2b.services.runs import course_run_change
from courses.admin import CourseRunAdmin
from courses.models import CourseRun

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
