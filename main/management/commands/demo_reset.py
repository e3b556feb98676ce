"""``manage.py demo_reset``: empty the database for ``make demo``, unless it is not the demo's.

``make demo`` starts from an empty database. The embedded SQLite database is the demo's own and
is emptied at once; any other (``DATABASE_URL`` pointing at PostgreSQL) may hold real data, so it
is emptied only when ``DEMO_RESET`` is ``yes``: otherwise the command refuses, naming the
database, and exits 1 with nothing changed.
"""

import os
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = (
        "Empty the database for `make demo`: the embedded SQLite one at once, any other only with "
        "DEMO_RESET=yes."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        name, kind = connection.settings_dict["NAME"], connection.display_name
        if connection.vendor != "sqlite" and os.environ.get("DEMO_RESET", "").lower() != "yes":
            raise CommandError(
                f"`make demo` empties the database, and DATABASE_URL points at the {kind} "
                f"database {name!r}, which is not the demo's own: nothing was changed. Set "
                "DEMO_RESET=yes to empty it for the demo, or unset DATABASE_URL to use the "
                "embedded SQLite database."
            )
        call_command("flush", interactive=False, verbosity=0)
        self.stdout.write(f"Emptied the {kind} database {name!r} for the demo.")
