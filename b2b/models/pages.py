"""Organizations and contracts as Wagtail pages (SPEC §1): ``active`` and the dates, not
Wagtail's publish state, decide whether a contract is in force."""

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
