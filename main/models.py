"""The User model and the site's Home page."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from wagtail.models import Page


class User(AbstractUser):
    """A learner or a member of staff. ``name`` is the full display name (from SSO claims or
    admin)."""

    name = models.CharField(max_length=255, blank=True, default="")

    def get_full_name(self) -> str:
        return self.name or super().get_full_name()

    def __str__(self) -> str:
        return self.email or self.username


class HomePage(Page):
    """The root of the site's page tree; ``configure_wagtail`` creates the only one."""

    max_count = 1
    parent_page_types = ["wagtailcore.Page"]
    template = "main/home_page.html"

    class Meta:
        verbose_name = "home page"


class OutgoingMail(models.Model):
    """One mail the product sends (``main.mail``, SPEC §9): rendered when queued, sent after the
    commit by a Celery task, its delivery recorded.

    ``status``: ``queued`` until a send succeeds (``sent``) or is given up (``failed``, with
    ``last_error``); a failed attempt leaves it ``queued`` with ``last_error`` and the time of its
    next attempt. ``provider_status`` and ``provider_message_id`` are what a mail provider later
    reports about a sent mail (django-anymail's tracking: delivered, bounced, complained...).
    ``key``, when set, makes the mail unique: queuing the same key again returns the first one.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    class ProviderStatus(models.TextChoices):
        DELIVERED = "delivered"
        DEFERRED = "deferred"
        BOUNCED = "bounced"
        REJECTED = "rejected"
        COMPLAINED = "complained"

    to = models.EmailField(max_length=254)
    user = models.ForeignKey(
        "main.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The recipient's account, when the mail is about one.",
    )
    from_email = models.CharField(max_length=320)
    subject = models.CharField(max_length=255)
    template = models.CharField(
        max_length=150, help_text="The templates' prefix, e.g. ecommerce/mail/receipt."
    )
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    key = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_on = models.DateTimeField(
        null=True, blank=True, help_text="When a queued mail is due to be sent (again)."
    )
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker sending the mail holds it until then."
    )
    sent_on = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    provider_status = models.CharField(
        max_length=20, choices=ProviderStatus.choices, blank=True, default=""
    )
    provider_status_on = models.DateTimeField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outgoing mail"
        verbose_name_plural = "outgoing mail"
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=~models.Q(key=""), name="outgoingmail_unique_key"
            ),
            models.UniqueConstraint(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="outgoingmail_unique_provider_message_id",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "sent", "failed"]),
                name="outgoingmail_status_known",
            ),
        ]
        indexes = [
            # What the periodic re-queue reads: the few mails not sent yet, by when they are due.
            models.Index(
                fields=["next_attempt_on"],
                condition=models.Q(status="queued"),
                name="outgoingmail_queued_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {self.to} ({self.status})"
