"""The catalog: courses, course runs, programs with their requirements tree, and enrollments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class EdxStatus(models.TextChoices):
    """Where a run (or an enrollment) stands in Open edX (SPEC §8)."""

    NOT_CONFIGURED = "not-configured", "edX not configured"
    PENDING = "pending", "pending"
    CREATED = "created", "created"
    FAILED = "failed", "failed"


class Course(models.Model):
    """A course, named by its readable ID ``course-v1:ORG+NUMBER``."""

    readable_id = models.CharField(max_length=255, unique=True)
    title = models.CharField(max_length=255)
    live = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["readable_id"]

    def __str__(self) -> str:
        return f"{self.readable_id} {self.title}"


class CourseRunQuerySet(models.QuerySet["CourseRun"]):
    def public(self) -> CourseRunQuerySet:
        """Runs of the public catalog: live, not a source run, never a B2B run (SPEC §1)."""
        return self.filter(live=True, is_b2b=False, is_source_run=False, course__live=True)


class CourseRun(models.Model):
    """A run of a course, named by its courseware ID ``course-v1:ORG+NUMBER+RUN``.

    ``b2b_contract`` is the contract the run belongs to now (null when none); ``is_b2b`` records
    that it ever was a contract run and stays set, so the run never reaches the public catalog.

    Open edX state (SPEC §8): ``edx_status`` with ``edx_error`` (the last error, empty once
    created), ``edx_attempts`` (sync attempts so far) and ``edx_last_attempt_on``.
    """

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="runs")
    courseware_id = models.CharField(max_length=255, unique=True)
    run_tag = models.CharField(max_length=100)
    title = models.CharField(max_length=255)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    enrollment_start = models.DateTimeField(null=True, blank=True)
    enrollment_end = models.DateTimeField(null=True, blank=True)
    live = models.BooleanField(default=False)
    is_self_paced = models.BooleanField(default=False)
    is_source_run = models.BooleanField(default=False)
    b2b_contract = models.ForeignKey(
        "b2b.ContractPage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="course_runs",
    )
    is_b2b = models.BooleanField(default=False)
    edx_status = models.CharField(
        max_length=20, choices=EdxStatus.choices, default=EdxStatus.NOT_CONFIGURED
    )
    edx_error = models.TextField(blank=True, default="")
    # The source run's courseware ID when this run is created here and cloned in Open edX from it;
    # empty for runs that come from Open edX (the catalog's runs, runs assigned to a contract).
    edx_source_key = models.CharField(max_length=255, blank=True, default="")
    edx_attempts = models.PositiveIntegerField(default=0)
    edx_last_attempt_on = models.DateTimeField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    objects = CourseRunQuerySet.as_manager()

    class Meta:
        ordering = ["courseware_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["course"],
                condition=Q(is_source_run=True),
                name="courserun_one_source_run_per_course",
            ),
            models.CheckConstraint(
                condition=Q(b2b_contract__isnull=True) | Q(is_b2b=True),
                name="courserun_contract_run_is_b2b",
            ),
        ]

    def __str__(self) -> str:
        return self.courseware_id


class Program(models.Model):
    """A program, named by its readable ID ``program-v1:...``, with a requirements tree."""

    readable_id = models.CharField(max_length=255, unique=True)
    title = models.CharField(max_length=255)
    live = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["readable_id"]

    def __str__(self) -> str:
        return f"{self.readable_id} {self.title}"


class ProgramRequirement(models.Model):
    """A node of a program's requirements tree.

    Operator nodes group their children: ``all-of`` (every child is required) or ``min-of``
    (at least ``min_required`` children, an elective group). Leaf nodes name a course or a nested
    program. The root of a program's tree is its one operator node without a parent.
    """

    class NodeType(models.TextChoices):
        OPERATOR = "operator"
        COURSE = "course"
        PROGRAM = "program"

    class Operator(models.TextChoices):
        ALL_OF = "all-of"
        MIN_OF = "min-of"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="requirement_nodes")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    node_type = models.CharField(max_length=10, choices=NodeType.choices)
    operator = models.CharField(max_length=10, choices=Operator.choices, blank=True, default="")
    min_required = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True, default="")
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    required_program = models.ForeignKey(
        Program, on_delete=models.PROTECT, null=True, blank=True, related_name="required_by"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["program_id", "parent_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(node_type="operator", course__isnull=True, required_program__isnull=True)
                    & ~Q(operator="")
                )
                | Q(node_type="course", course__isnull=False, required_program__isnull=True)
                | Q(node_type="program", course__isnull=True, required_program__isnull=False),
                name="programrequirement_node_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.readable_id} {self.node_type} {self.title or self.operator}"


class CourseRunEnrollment(models.Model):
    """A learner's enrollment in a course run; one per learner per run.

    Its Open edX state (the LMS enrollment) is kept like a run's: ``edx_status``, ``edx_error``,
    ``edx_attempts``, ``edx_last_attempt_on``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    run = models.ForeignKey(CourseRun, on_delete=models.PROTECT, related_name="enrollments")
    active = models.BooleanField(default=True)
    edx_status = models.CharField(
        max_length=20, choices=EdxStatus.choices, default=EdxStatus.NOT_CONFIGURED
    )
    edx_error = models.TextField(blank=True, default="")
    edx_attempts = models.PositiveIntegerField(default=0)
    edx_last_attempt_on = models.DateTimeField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "run"], name="enrollment_one_per_user_run"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.run}"
