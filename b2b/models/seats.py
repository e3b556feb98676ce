"""Organization managers and seats assigned by email with the codes they hold (SPEC §9)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from b2b.models.pages import ContractPage, OrganizationPage


class OrganizationManager(models.Model):
    """A person who manages an organization: sees and acts on all its contracts (SPEC §9).

    Known by ``email`` (lowercase), the address staff granted it to. ``user`` is the account once
    there is one: set when granted to an existing account, and linked at the first sign-in of the
    account that verified ``email`` (``b2b.services.managers.managed_organizations``). One row per
    organization and email.
    """

    organization = models.ForeignKey(
        OrganizationPage, on_delete=models.CASCADE, related_name="managers"
    )
    email = models.EmailField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="managed_organizations",
    )
    alerts = models.BooleanField(
        default=True, help_text="Mailed when the contracts' seats run low or their end nears."
    )
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "organization manager"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"], name="manager_one_per_organization_email"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} manages {self.organization_id}"


class SeatAssignment(models.Model):
    """A seat of a contract given to an email address by a manager or staff (SPEC §9).

    ``open``: the seat is reserved for ``email`` (counted in ``b2b.services.seats.SeatCount``) and,
    on a capped contract, one unredeemed code per product is held for it (``held_codes``): only a
    learner whose verified email is ``email`` may use them. ``joined``: the assignee was attached
    (``membership_write`` closes it; the seat is now their membership, the codes they did not
    use are released). ``revoked``: the seat is released and its codes deactivated. At most one
    open assignment per contract and email.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        JOINED = "joined"
        REVOKED = "revoked"

    contract = models.ForeignKey(ContractPage, on_delete=models.PROTECT, related_name="assignments")
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_on = models.DateTimeField(auto_now_add=True)
    closed_on = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(default=0)
    reminded_on = models.DateTimeField(null=True, blank=True)
    mail = models.ForeignKey(
        "main.OutgoingMail",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The latest invitation or reminder sent for it.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "email"],
                condition=Q(status="open"),
                name="assignment_one_open_per_contract_email",
            ),
        ]
        indexes = [models.Index(fields=["contract", "status"], name="assignment_contract_status")]

    def __str__(self) -> str:
        return f"seat of contract {self.contract_id} for {self.email} ({self.status})"


class SeatAssignmentCode(models.Model):
    """An enrollment code held by a seat assignment (one per product of a capped contract)."""

    assignment = models.ForeignKey(
        SeatAssignment, on_delete=models.CASCADE, related_name="held_codes"
    )
    discount = models.ForeignKey(
        "ecommerce.Discount", on_delete=models.CASCADE, related_name="assignment_holds"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "discount"], name="assignment_code_once"),
        ]

    def __str__(self) -> str:
        return f"code {self.discount_id} held by assignment {self.assignment_id}"
