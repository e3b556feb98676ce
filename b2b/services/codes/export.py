"""The codes CSV of SPEC §2: one row per active code of a contract's products, streamed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from b2b.models import ContractPage
from b2b.services.codes.report import BATCH_SIZE
from ecommerce.models import (
    DiscountProduct,
    code_redeemed,
)
from main.exports import csv_writer, private_file

CSV_HEADER = ("Code", "Product", "Redeemed", "Product URL")


def product_url(product_id: int) -> str:
    """The URL that empties a learner's basket and puts this product in it (SPEC §2, §5)."""
    return f"{settings.SITE_BASE_URL}/cart/add/?product_id={product_id}"


def contract_codes_rows(contract: ContractPage) -> Iterator[tuple[str, str, str, str]]:
    """The CSV's rows, streamed in chunks: one per active code of the contract's products."""
    rows = (
        DiscountProduct.objects.filter(
            product__course_run__b2b_contract=contract,
            product__is_active=True,
            discount__is_active=True,
        )
        .annotate(redeemed=code_redeemed("discount__"))
        .order_by("product_id", "discount_id")
        .values_list("discount__discount_code", "product_id", "product__description", "redeemed")
    )
    urls: dict[int, str] = {}
    for code, product_id, description, redeemed in rows.iterator(chunk_size=BATCH_SIZE):
        url = urls.get(product_id) or urls.setdefault(product_id, product_url(product_id))
        yield code, description, "Yes" if redeemed else "No", url


def codes_csv_chunks(contract: ContractPage, *, rows: list[int] | None = None) -> Iterator[str]:
    """The contract's codes CSV as text chunks (the header, then up to ``BATCH_SIZE`` rows a
    chunk): for a streamed download, and what ``codes_csv_write`` writes, so both are the same
    bytes once encoded as UTF-8. Cells a spreadsheet would evaluate are neutralised
    (``main.exports.csv_writer``). ``rows``, if given, gets the row count appended at the end."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for row in contract_codes_rows(contract):
        writer.writerow(row)
        count += 1
        if count % BATCH_SIZE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
    if rows is not None:
        rows.append(count)


def codes_csv_write(contract: ContractPage, path: Path) -> int:
    """Write the contract's codes CSV to ``path`` (UTF-8, RFC 4180); returns the row count.

    The codes are secrets: the file is readable by its owner only (mode 0600), written whole
    through a temporary file created exclusively beside ``path`` and renamed, never through a
    link (``main.exports.private_file``). The text is ``codes_csv_chunks``'s. Raises
    ``NotARegularFile`` (a ``ValueError``) for a path that exists and is not a regular file (a
    directory, a device, a symbolic link: never replaced), ``OSError`` for a path that cannot be
    written.
    """
    count: list[int] = []
    with private_file(path) as handle:
        for chunk in codes_csv_chunks(contract, rows=count):
            handle.write(chunk)
    return count[0]
