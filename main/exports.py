"""What the product writes for people to open elsewhere: CSV a spreadsheet cannot turn into a
formula, and private files written whole, never through a link.

Every CSV the product writes goes through ``csv_writer`` (the codes CSV, every command's
``--format csv``, any export); every file that holds secrets goes through ``private_file``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

#: A cell starting with one of these is read as a formula (or a command) by spreadsheets:
#: OWASP's "CSV injection" list.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_neutralised(text: str) -> str:
    """``text`` as a spreadsheet shows it and never evaluates: a cell starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote (OWASP's rule);
    any other text is returned as it is."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """``csv.writer`` (RFC 4180 quoting) whose text cells are neutralised (``csv_neutralised``).

    Numbers are written as they are: a number is never a formula, and ``-3`` stays a number. A
    cell holding a line break of either kind is quoted whatever ``lineterminator`` is (Python's
    writer quotes only the characters of its own line terminator).
    """

    def __init__(self, handle: IO[str], *, lineterminator: str = "\r\n") -> None:
        self._handle = handle
        self._lineterminator = lineterminator
        # Rows are made with CRLF line ends, so that a cell with "\r" or "\n" is quoted; with
        # another terminator, each row's CRLF is swapped for it.
        self._direct = lineterminator == "\r\n"
        self._row = handle if self._direct else io.StringIO()
        self._writer = csv.writer(self._row, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        cells = [csv_neutralised(cell) if isinstance(cell, str) else cell for cell in row]
        if self._direct:
            self._writer.writerow(cells)
            return
        assert isinstance(self._row, io.StringIO)
        self._row.seek(0)
        self._row.truncate()
        self._writer.writerow(cells)
        self._handle.write(self._row.getvalue()[:-2] + self._lineterminator)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str], *, lineterminator: str = "\r\n") -> CsvWriter:
    """The product's one CSV writer, on an open text ``handle`` (opened with ``newline=""``)."""
    return CsvWriter(handle, lineterminator=lineterminator)


class NotARegularFile(ValueError):
    """The target exists and is not a regular file (a directory, a device, a link)."""


#: Flags of the temporary file: created here and now (never an existing file or a planted
#: link), never followed through a link, written only.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def private_file(path: Path | str) -> Iterator[IO[str]]:
    """Write ``path`` whole or not at all, readable by its owner only (mode 0600).

    Yields a text handle (UTF-8, ``newline=""``) on a temporary file that is created
    exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, so a file or a link planted under its name
    is never opened) in the target's directory under a random name, then renamed over ``path``
    when the block ends without an error; on an error the temporary file is removed and
    ``path`` is untouched.

    Raises ``NotARegularFile`` when ``path`` exists and is not a regular file (a directory, a
    device, a symbolic link: never replaced, never followed), ``OSError`` when the directory
    cannot be written.
    """
    path = Path(path)
    _refuse_unless_regular(path)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
    descriptor = os.open(partial, _CREATE_FLAGS, 0o600)
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # A link or a device may have been put at ``path`` while the file was written: rename
        # replaces a link itself (never what it points to), but say no rather than replace it.
        _refuse_unless_regular(path)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _refuse_unless_regular(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotARegularFile(f"{path} exists and is not a regular file")
