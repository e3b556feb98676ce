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
