"""``manage.py configure_wagtail``: make the Home page and the Organizations index (SPEC §7)."""

from typing import Any

from django.core.management.base import BaseCommand

from main.services import site_configure


class Command(BaseCommand):
    help = (
        "Create (or keep) the site root, the Home page, the default site and the 'Organizations' "
        "index under Home. Safe to run any number of times."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = site_configure()
        for line in result.actions:
            self.stdout.write(line)
        if not result.actions:
            self.stdout.write("Wagtail is already configured: nothing to do.")
