"""``manage.py openedx_standin --port PORT``: a local Open edX for tests and for trying by hand.

It serves the LMS token and enrollment endpoints at its root and Studio's course-runs API under
``/studio``, with the catalog's runs already there (``openedx/standin/`` describes the
protocol and its control API). Point the ``OPENEDX_*`` settings at it, as the first lines it
prints say, and contract runs and enrollments are created in it.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openedx.standin import (
    DEFAULT_CATALOG,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    StandinServer,
    catalog_seed,
)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give a number such as 8060."
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: give 1-65535 (0: any free port).")
    return value


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Serve a local stand-in for Open edX (LMS token and enrollment endpoints, Studio "
        "course-runs API) until interrupted."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=_port,
            required=True,
            help="The port to listen on (0: any free port; the URL is printed).",
        )
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="The address to listen on (default 127.0.0.1; the control API "
            "has no authentication, so keep it on loopback).",
        )
        parser.add_argument(
            "--client-id",
            default=DEFAULT_CLIENT_ID,
            help=f"The service account's client ID (default {DEFAULT_CLIENT_ID}).",
        )
        parser.add_argument(
            "--client-secret",
            default=DEFAULT_CLIENT_SECRET,
            help=f"The service account's client secret (default {DEFAULT_CLIENT_SECRET}).",
        )
        parser.add_argument(
            "--token-lifetime",
            type=int,
            default=3600,
            help="Seconds a token lives (expires_in; default 3600).",
        )
        seed = parser.add_mutually_exclusive_group()
        seed.add_argument(
            "--catalog",
            type=Path,
            default=DEFAULT_CATALOG,
            help="A catalog file whose runs (source runs included) exist from the "
            "start (default: the shipped catalog).",
        )
        seed.add_argument("--empty", action="store_true", help="Start with no runs at all.")
        parser.add_argument("--quiet", action="store_true", help="Do not print each request.")

    def handle(
        self,
        *args: Any,
        port: int,
        host: str,
        client_id: str,
        client_secret: str,
        token_lifetime: int,
        catalog: Path,
        empty: bool,
        quiet: bool,
        **options: Any,
    ) -> None:
        if token_lifetime < 1:
            raise CommandError("--token-lifetime must be at least 1 second.")
        seed: dict[str, dict[str, Any]] = {}
        if not empty:
            try:
                seed = catalog_seed(catalog)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(
                    f"Cannot read the catalog {catalog}: {exc}. Give a catalog file "
                    "(docs/catalog-format.md) with --catalog, or --empty."
                ) from exc
        try:
            server = StandinServer(
                host,
                port,
                client_id=client_id,
                client_secret=client_secret,
                token_lifetime=token_lifetime,
                seed=seed,
                on_request=None if quiet else self._print_request,
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port."
            ) from exc
        self.stdout.write(
            f"Open edX stand-in listening on {server.url} (Studio: {server.studio_url})"
        )
        self.stdout.write(f"{len(seed)} runs loaded. Point the project at it with:")
        for name, value in (
            ("OPENEDX_API_BASE_URL", server.url),
            ("OPENEDX_STUDIO_API_BASE_URL", server.studio_url),
            ("OPENEDX_COURSES_SERVICE_WORKER_CLIENT_ID", client_id),
            ("OPENEDX_COURSES_SERVICE_WORKER_CLIENT_SECRET", client_secret),
        ):
            self.stdout.write(f"  export {name}={value}")
        self.stdout.write(f"What it holds: curl {server.url}/_standin/state   (Ctrl-C stops it)")
        self.stdout.flush()
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stderr.write("Stopped.")
        finally:
            server.stop()

    def _print_request(self, entry: dict[str, Any]) -> None:
        status = entry["status"] if entry["status"] is not None else "(no answer: timeout fault)"
        fault = f" [fault {entry['fault']}]" if entry["fault"] else ""
        self.stdout.write(f"{entry['method']} {entry['path']} {status}{fault}")
        self.stdout.flush()
