"""What is on a contract (courseware), who is attached to it (memberships), and the rows that
serialise and remember its code adjustments (SPEC §1, §4, ARCHITECTURE rule 12)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from b2b.models.pages import ContractPage
from courses.models import Course, Program


class ContractCourseware(models.Model):
    """A course or a program on a contract (with or without runs): what
    ``b2b_list courseware`` lists."""

    contract = models.ForeignKey(ContractPage, on_delete=models.CASCADE, related_name="courseware")
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "contract courseware"
        constraints = [
            models.CheckConstraint(
                condition=Q(course__isnull=False, program__isnull=True)
                | Q(course__isnull=True, program__isnull=False),
                name="contractcourseware_course_xor_program",
            ),
            models.UniqueConstraint(
                fields=["contract", "course"],
                condition=Q(course__isnull=False),
                name="contractcourseware_unique_course",
            ),
            models.UniqueConstraint(
                fields=["contract", "program"],
                condition=Q(program__isnull=False),
                name="contractcourseware_unique_program",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course or self.program} on {self.contract}"


class ContractMembership(models.Model):
    """A learner attached to a contract, and how they came (SPEC §1). One per learner per
    contract."""

    class Source(models.TextChoices):
        SSO = "sso"
        CODE = "code"
        MANUAL = "manual"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contract_memberships"
    )
    contract = models.ForeignKey(ContractPage, on_delete=models.PROTECT, related_name="memberships")
    source = models.CharField(max_length=10, choices=Source.choices)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "contract"], name="membership_one_per_user_contract"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.contract} ({self.source})"


class ContractCodesLock(models.Model):
    """The per-contract lock that serialises the enrollment-code adjustment (SPEC §4).

    Its own row, not the contract's: checkout locks the contract row, and must keep working
    while a long adjustment of the same contract holds this one.
    """

    contract = models.OneToOneField(
        ContractPage, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"codes lock of contract {self.contract_id}"


class ContractCodesPending(models.Model):
    """The durable marker that a contract's enrollment codes need adjusting (SPEC §4;
    ARCHITECTURE rule 12, durable intent).

    Written in the same transaction as the change that needs the adjustment
    (``codes_adjust_queue``), so it exists exactly when the change committed, whether or not the
    task message ever reached the broker. ``requested_on`` is when the oldest unfinished request
    was made (later requests keep it); ``request_id`` names the latest request. The adjustment
    deletes the row only if ``request_id`` is still the one it read before it read the contract,
    so a change committed while it ran keeps the marker. The periodic re-queue and ``b2b_check``
    read ``requested_on``.
    """

    contract = models.OneToOneField(
        ContractPage, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    requested_on = models.DateTimeField()
    request_id = models.UUIDField()

    def __str__(self) -> str:
        return f"codes of contract {self.contract_id} to adjust since {self.requested_on}"
