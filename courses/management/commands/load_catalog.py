"""``manage.py load_catalog [PATH]``: load a catalog file (docs/catalog-format.md)."""

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from courses.catalog import catalog_load
from main.commands import DomainCommand


class Command(DomainCommand):
    help = (
        "Load courses, course runs and programs from a catalog JSON file (format catalog/1). "
        "Idempotent; creates no organizations or contracts. Without PATH, loads the real catalog "
        "shipped with the project."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            default=None,
            help=(
                "Catalog file (default: the catalog shipped with the project, "
                "courses/data/catalog.json)."
            ),
        )
        parser.set_defaults(handler=self.load)

    def load(self, *, path: Path | None, **_: Any) -> None:
        result = catalog_load(path)
        for label, tally in (
            ("courses", result.courses),
            ("course runs", result.runs),
            ("programs", result.programs),
        ):
            self.stdout.write(
                f"{label}: {tally.created} created, {tally.updated} updated, "
                f"{tally.unchanged} unchanged"
            )
        self.hint(f"Loaded {result.path}.")
