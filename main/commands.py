"""The base of the project's management commands (ARCHITECTURE, rule 6).

Subcommands are argparse subparsers dispatched with ``set_defaults(handler=...)``. A service's
``DomainError`` becomes a ``CommandError`` (exit 1, one line on stderr, no traceback); argparse
rejects a malformed command line (exit 2). Results go to stdout, hints and progress to stderr.
"""

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, OperationalError, ProgrammingError, connection
from rich.console import Console
from rich.table import Table
from rich.text import Text

from main.actors import Via, acting_as
from main.exceptions import DomainError
from main.exports import csv_writer

FORMATS = ("table", "json", "csv")
#: The exit status when stdout's reader closes early (`... | head`): 128 + SIGPIPE, as a shell
#: reports for a Unix tool stopped that way.
EXIT_BROKEN_PIPE = 141


def _stdout_discard(stream: Any) -> None:
    """Point the process's stdout at /dev/null when ``stream`` writes to it, so the buffered
    rest is dropped at exit instead of raising ``BrokenPipeError`` again."""
    stdout = sys.stdout
    if stdout is None or id(getattr(stream, "_out", None)) != id(stdout):
        return  # a stream of the caller's (call_command's stdout=): nothing of the process's
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stdout.fileno())


class DomainCommand(BaseCommand):
    """A command made of subcommands; each subparser sets ``handler`` to a bound method."""

    requires_system_checks: list[str] = []

    def add_subcommands(self, parser: CommandParser) -> Any:
        return parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    def handle(self, *args: Any, **options: Any) -> None:
        handler: Callable[..., None] = options.pop("handler")
        # Every change this command makes is recorded as made by the command (see main.actors).
        name = f"manage.py {self.__module__.rsplit('.', 1)[-1]} {options.get('subcommand') or ''}"
        try:
            with acting_as(Via.COMMAND, name=name.strip()), _log_lines(options.get("verbosity", 1)):
                handler(**options)
                self.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as Unix tools do on SIGPIPE.
            _stdout_discard(self.stdout)
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        except DomainError as exc:
            raise CommandError(exc.message, returncode=1) from exc
        except (OperationalError, ProgrammingError) as exc:  # not integrity errors: those are bugs
            problem = database_problem()
            if problem is None:
                raise
            raise CommandError(problem, returncode=1) from exc

    # -- output -------------------------------------------------------------------------------

    def hint(self, message: str) -> None:
        """A line for the operator on stderr (kept out of stdout, which carries results)."""
        self.stderr.write(message, style_func=lambda text: text)

    def emit_json(self, document: Any) -> None:
        """Exactly one JSON document on stdout."""
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    def emit_rows(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        fmt: str,
        columns: Sequence[str],
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Render ``rows`` (dicts with JSON-ready values) as a rich table, one JSON list, or CSV."""
        if fmt == "json":
            self.emit_json(list(rows))
            return
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv_writer(buffer, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_cell(row.get(col)) for col in columns])
            self.stdout.write(buffer.getvalue(), ending="")
            return
        headers = headers or {}
        self.stdout.write(
            table_render(
                [[_plain(row.get(col)) for col in columns] for row in rows],
                headers=[headers.get(col, col) for col in columns],
                title=title,
            ),
            ending="",
        )
        if not rows:
            self.hint("(nothing to list)")


def add_format_argument(parser: CommandParser, *, choices: Iterable[str] = FORMATS) -> None:
    parser.add_argument(
        "--format",
        choices=tuple(choices),
        default="table",
        help="Output format (default: table).",
    )


def render_rich(renderable: Any) -> str:
    """Render a rich object to plain text: as wide as the terminal, or 200 columns in a pipe."""
    width = shutil.get_terminal_size((200, 24)).columns if sys.stdout.isatty() else 200
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


#: Characters a terminal acts on instead of showing: C0 controls (escape sequences start with
#: ESC; a carriage return rewrites the line) but the tab and the line break a description may
#: hold, DEL, the C1 controls (CSI among them) and the direction overrides, embeddings and
#: isolates that reorder the text around them. ``terminal_text`` shows each as its escape.
_TERMINAL_ACTIVE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(value: str) -> str:
    """``value`` safe to print in a terminal: each control or direction character (tabs and
    line breaks aside) is shown as its Python escape (``"Eve\\x1b[2J"`` prints as
    ``Eve\\x1b[2J``), so a name a learner or an identity provider chose can neither run escape
    sequences in the operator's terminal (clear it, rewrite lines, plant links) nor reorder
    what is shown. Other text is unchanged."""
    return _TERMINAL_ACTIVE.sub(_escaped, value)


def table_render(
    rows: Iterable[Sequence[str]],
    *,
    headers: Sequence[str],
    title: str | None = None,
    show_header: bool = True,
) -> str:
    """The commands' one table renderer: ``rows`` of text under ``headers``, as plain text.

    Every cell, header and the title is literal text (``rich.text.Text``): a name holding
    rich markup (``[/b]``, ``[link=...]``) or an emoji code (``:smile:``) is shown as typed,
    never interpreted, and control characters are shown escaped (``terminal_text``).
    """
    table = Table(
        title=Text(terminal_text(title)) if title is not None else None,
        title_justify="left",
        show_lines=False,
        show_header=show_header,
    )
    for header in headers:
        table.add_column(Text(terminal_text(header)), overflow="fold")
    for row in rows:
        table.add_row(*(Text(terminal_text(cell)) for cell in row))
    return render_rich(table)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(_csv_cell(v) for v in value)
    return str(value)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "\n".join(_plain(v) for v in value)
    return str(value)


@contextlib.contextmanager
def _log_lines(verbosity: int) -> Any:
    """The command says what it did in its own words: the log's INFO lines (the same news with
    a timestamp) reach the terminal only with ``-v 2`` or more; warnings and errors always do.
    Only the ``console`` handler of ``settings.LOGGING`` is quieted."""
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    levels = [h.level for h in handlers]
    if verbosity < 2:
        for h in handlers:
            h.setLevel(max(h.level, logging.WARNING))
    try:
        yield
    finally:
        for h, level in zip(handlers, levels, strict=True):
            h.setLevel(level)


def database_problem() -> str | None:
    """Why the database cannot serve the commands, in words an operator can act on: it cannot
    be reached, or it lacks migrations. ``None`` when neither (the error is another one)."""
    from django.db.migrations.executor import MigrationExecutor

    try:
        if not connection.in_atomic_block:
            connection.close()  # the failed connection may be unusable: ask on a fresh one
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"Cannot reach the database ({first}): check DATABASE_URL and that the server runs."
    if pending:
        return (
            f"The database is not set up ({len(pending)} migrations not applied): run `make setup` "
            "(or `manage.py migrate`) first."
        )
    return None
