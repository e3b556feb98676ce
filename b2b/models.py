"""Organizations and contracts (Wagtail pages), what is on a contract, and who is attached to it.

SPEC §1: an organization is an ``OrganizationPage`` under the single "Organizations" index under
Home; a contract is a ``ContractPage`` whose parent is its organization. ``active`` and the dates,
not Wagtail's publish state, decide whether a contract is in force.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.models import Page, PagePermissionTester

from b2b.panels import ContractCopyForm, ContractPageForm, ContractStatusPanel, OrganizationPageForm
from b2b.validators import validate_max_learners, validate_org_key, validate_price
from courses.models import Course, Program

ZERO = Decimal("0.00")


class StaffOnlyPage(Page):
    """A page that exists for staff in the Wagtail admin only: never served, never previewed."""

    preview_modes: list[tuple[str, str]] = []

    class Meta:
        abstract = True

    def serve(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Http404("Organizations and contracts are managed in the admin, not served.")

    def get_url_parts(self, request=None):  # type: ignore[no-untyped-def]
        # On the site (its site ID), with no URL: the admin offers no "View live" link to a page
        # that is never served, and does not warn that it is outside every site.
        parts = super().get_url_parts(request)
        return None if parts is None else (parts[0], None, None)


class NoUnpublish(PagePermissionTester):
    """Wagtail's page permissions, without unpublishing (organizations and contracts)."""

    def can_unpublish(self) -> bool:
        return False


class RecordedPage(StaffOnlyPage):
    """An organization or a contract: publishing records the change and follows it up."""

    class Meta:
        abstract = True

    def permissions_for_user(self, user):  # type: ignore[no-untyped-def]
        # Whether a contract is in force is ``active`` and its dates (SPEC §3), never Wagtail's
        # publish state: no Unpublish, which would look "off" while the contract stays on.
        return NoUnpublish(user, self)

    def publish(self, revision, user=None, **kwargs):  # type: ignore[no-untyped-def]
        # Every publish (editor, bulk, schedule, workflow, commands) records what changed and,
        # for a contract, queues its code adjustment (SPEC §7): see b2b.services.pages. A Wagtail
        # seam: the services import these models, so the model imports them when called.
        from b2b.services.pages import page_publish

        return page_publish(self, revision, user=user, **kwargs)

    def publish_unrecorded(self, revision, user=None, **kwargs):  # type: ignore[no-untyped-def]
        """Wagtail's own publish, without the follow-up: for the service that publishes around it
        (``b2b.services.pages.page_publish``, ``b2b.services.contracts.contract_publish``)."""
        return super().publish(revision, user=user, **kwargs)


class OrganizationIndexPage(StaffOnlyPage):
    """The one "Organizations" page under Home; organizations are its children."""

    max_count = 1
    parent_page_types = ["main.HomePage"]
    subpage_types = ["b2b.OrganizationPage"]

    class Meta:
        verbose_name = "organizations index"


class OrganizationPage(RecordedPage):
    """A customer organization: metadata and grouping for its contracts and learners."""

    name = models.CharField(max_length=255, help_text="No two organizations share a name.")
    org_key = models.CharField(
        max_length=30,
        unique=True,
        validators=[validate_org_key],
        help_text="1–30 letters, digits or _. It names the organization's course runs in Open "
        "edX, so it cannot change once the organization has runs.",
    )
    sso_organization_id = models.UUIDField(
        "SSO organization ID",
        null=True,
        blank=True,
        unique=True,
        help_text="The organization's ID in the identity provider (Keycloak), a UUID; empty "
        "when its learners do not sign in with SSO.",
    )
    description = models.TextField(blank=True, default="")
    logo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seat_alerts = models.BooleanField(
        "seat and end-date alerts",
        default=True,
        help_text="Mail the organization's managers when a contract reaches 75 %, 90 % and "
        "100 % of its seats, and 30 and 7 days before it ends.",
    )

    parent_page_types = ["b2b.OrganizationIndexPage"]
    subpage_types = ["b2b.ContractPage"]

    base_form_class = OrganizationPageForm
    content_panels = [
        FieldPanel("name"),
        FieldPanel("org_key"),
        FieldPanel("sso_organization_id"),
        FieldPanel("description"),
        FieldPanel("logo"),
        FieldPanel("seat_alerts"),
    ]
    # The slug is made from the name once and kept (renaming keeps it); nothing else to promote.
    promote_panels: list = []
    settings_panels: list = []

    class Meta:
        verbose_name = "organization"
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organization_name_ci_unique"),
            models.UniqueConstraint(Lower("org_key"), name="organization_org_key_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ContractTerms:
    """What a contract's terms mean (SPEC §1, §3, §4.2), read from its fields: shared by the page
    (``ContractPage``) and the facts the seat rules read under the contract lock
    (``b2b.services.seats.ContractFacts``), so both answer the same way.

    Expects ``integration_type``, ``active``, ``contract_start``, ``contract_end`` and
    ``enrollment_fixed_price``.
    """

    integration_type: str
    active: bool
    contract_start: dt.date | None
    contract_end: dt.date | None
    enrollment_fixed_price: Decimal | None

    @property
    def price(self) -> Decimal:
        """The price a learner pays per run: the fixed price, or 0.00 when free."""
        return self.enrollment_fixed_price or ZERO

    @property
    def is_free(self) -> bool:
        return self.price == ZERO

    @property
    def is_sso(self) -> bool:
        return self.integration_type == "sso"

    @property
    def needs_codes(self) -> bool:
        """Codes are needed for non-SSO contracts, and for SSO contracts with a price
        (SPEC §4.2)."""
        return not self.is_sso or not self.is_free

    @property
    def starts_at(self) -> dt.datetime | None:
        """00:00 of the start date in ``TIME_ZONE`` (SPEC §3), or None."""
        if self.contract_start is None:
            return None
        return dt.datetime.combine(
            self.contract_start, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE)
        )

    @property
    def ends_at(self) -> dt.datetime | None:
        """23:59:59 of the (inclusive) end date in ``TIME_ZONE`` (SPEC §3), or None."""
        if self.contract_end is None:
            return None
        return dt.datetime.combine(
            self.contract_end, dt.time(23, 59, 59), tzinfo=ZoneInfo(settings.TIME_ZONE)
        )

    def is_in_force(self, at: dt.datetime | None = None) -> bool:
        """Active and ``at`` (default now) within the contract's dates."""
        at = at or timezone.now()
        starts, ends = self.starts_at, self.ends_at
        return self.active and (starts is None or starts <= at) and (ends is None or at <= ends)


class ContractPage(ContractTerms, RecordedPage):
    """A contract between the platform and an organization (its parent page)."""

    class IntegrationType(models.TextChoices):
        SSO = "sso", "SSO"
        NON_SSO = "non-sso", "non-SSO"

    organization = models.ForeignKey(
        OrganizationPage,
        on_delete=models.PROTECT,
        related_name="contracts",
        blank=True,
        editable=False,
    )
    # None in memory until the first save sets it from the parent page (``save``); the column
    # is NOT NULL. Declared so the type checker knows it before the plugin adds the FK's columns.
    organization_id: int | None
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    integration_type = models.CharField(
        "integration",
        max_length=10,
        choices=IntegrationType.choices,
        help_text="SSO: the organization's learners are attached when they sign in. non-SSO: "
        "learners get in with an enrollment code.",
    )
    contract_start = models.DateField("start", null=True, blank=True)
    contract_end = models.DateField(
        "end", null=True, blank=True, help_text="The last day the contract is in force."
    )
    active = models.BooleanField(
        default=True,
        help_text="In force while active and between its start and end dates; untick to stop "
        "learners from using it.",
    )
    max_learners = models.PositiveIntegerField(
        "learner cap",
        null=True,
        blank=True,
        validators=[validate_max_learners],
        help_text="Empty: no cap.",
    )
    enrollment_fixed_price = models.DecimalField(
        "price",
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[validate_price],
        help_text="What a learner pays per course run. Empty or 0.00: free.",
    )
    welcome_text = models.TextField(
        blank=True,
        default="",
        max_length=2000,
        help_text="Optional. Shown to the contract's learners on My courses, under the "
        "organization's name and logo (plain text; blank lines make paragraphs).",
    )

    parent_page_types = ["b2b.OrganizationPage"]
    subpage_types: list[str] = []

    base_form_class = ContractPageForm
    copy_form_class = ContractCopyForm
    content_panels = [
        ContractStatusPanel(heading="Courseware, codes and learners"),
        MultiFieldPanel(
            [
                FieldPanel("name"),
                FieldPanel("description"),
                FieldPanel("integration_type"),
                FieldPanel("active"),
                FieldPanel("welcome_text"),
            ],
            heading="Basics",
        ),
        MultiFieldPanel(
            [FieldPanel("max_learners"), FieldPanel("enrollment_fixed_price")],
            heading="Learner provisioning",
        ),
        MultiFieldPanel(
            [FieldPanel("contract_start"), FieldPanel("contract_end")], heading="Availability"
        ),
    ]
    promote_panels: list = []
    settings_panels: list = []

    class Meta:
        verbose_name = "contract"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_learners__isnull=True) | Q(max_learners__gte=1),
                name="contract_cap_at_least_one",
            ),
            models.CheckConstraint(
                condition=Q(enrollment_fixed_price__isnull=True)
                | Q(enrollment_fixed_price__gte=0, enrollment_fixed_price__lte=Decimal("99999.99")),
                name="contract_price_in_range",
            ),
            models.CheckConstraint(
                condition=Q(contract_start__isnull=True)
                | Q(contract_end__isnull=True)
                | Q(contract_start__lte=models.F("contract_end")),
                name="contract_start_not_after_end",
            ),
        ]

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The organization is the parent page, always (SPEC §1).
        if self.organization_id is None and self.depth and self.depth > 1:
            self.organization_id = self.get_parent().pk
        return super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.name


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
