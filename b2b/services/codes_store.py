"""The storage side of the enrollment-code adjustment (SPEC §4): its lock and its bulk writes.

Two ways to insert codes, with the same result:

- the portable path, ``bulk_create`` in batches, used on SQLite (and on PostgreSQL when
  ``FAST_PATH`` is off);
- the PostgreSQL fast path: ids reserved from the table's sequence in one query, then the codes
  and their product links streamed with psycopg ``COPY ... FROM STDIN``. On the 500,000-code
  benchmark (``make bench`` with ``BENCH_PORTABLE=1``) it ran at the COPY floor (0.85× in one
  run) where ``bulk_create`` took 3.7× the floor.

COPY statements are recorded in ``connection.queries`` like any other statement, so query
counts (tests, the benchmark) include them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from b2b.models import ContractCodesLock
from ecommerce.models import Discount, DiscountProduct

log = logging.getLogger(__name__)

#: Codes inserted per transaction. On PostgreSQL a batch is at most three statements (ids,
#: codes, links) and on the portable path four INSERTs: under one statement per 5,000 codes.
CREATE_BATCH = 20_000
#: Rows per INSERT on the portable path.
INSERT_BATCH = 10_000
#: Use COPY on PostgreSQL (off: the portable path everywhere, e.g. to compare them).
FAST_PATH = True
#: The first key of the PostgreSQL advisory lock; the second is the contract ID.
ADVISORY_LOCK_CLASS = 0x0B2B

DISCOUNT_COLUMNS = (
    "id",
    "discount_code",
    "amount",
    "discount_type",
    "redemption_type",
    "payment_type",
    "is_bulk",
    "is_active",
    "activation_date",
    "expiration_date",
    "created_on",
    "updated_on",
)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def codes_lock(contract_id: int) -> Iterator[None]:
    """Hold the contract's code lock for the block: one adjustment at a time per contract.

    PostgreSQL: an advisory lock keyed on the contract ID, held by the session across the
    adjustment's short transactions (a worker that dies loses its connection, and the lock with
    it). Inside a caller's transaction it is the transaction-scoped variant. The contract row is
    never locked, so checkout (which locks it) goes on while an adjustment runs.

    SQLite: one transaction for the whole block, opened by a write to the contract's
    ``ContractCodesLock`` row (SQLite has one writer at a time, so that write serialises).
    """
    if is_postgresql():
        if connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, contract_id]
                )
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_CLASS, contract_id])
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_CLASS, contract_id]
                    )
            except DatabaseError:  # a lost connection has released the lock already
                log.warning("Could not release the code lock of contract %s", contract_id)
        return
    with transaction.atomic():
        now = timezone.now()
        if not ContractCodesLock.objects.filter(contract_id=contract_id).update(locked_at=now):
            ContractCodesLock.objects.update_or_create(
                contract_id=contract_id, defaults={"locked_at": now}
            )
        yield


def lockable(queryset: QuerySet[Discount]) -> QuerySet[Discount]:
    """On PostgreSQL, lock the selected codes and skip those a checkout holds right now.

    A code that a checkout has locked may be redeemed a moment later; deactivating or deleting
    it then would break "never a redeemed one" (SPEC §4.5), so the adjustment leaves it to the
    next run. Must be evaluated inside a transaction.
    """
    if is_postgresql():
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def raw_execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; returns the rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def subquery_sql(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """A queryset compiled to SQL and parameters, to embed in a hand-written statement."""
    return queryset.query.get_compiler(connection=connection).as_sql()


def new_code() -> str:
    """An enrollment code: a UUID4 in canonical lowercase form (SPEC §1)."""
    return str(uuid.uuid4())


def codes_insert(
    product_id: int,
    count: int,
    *,
    redemption_type: str,
    amount: Decimal,
    activation: dt.datetime | None,
    expiration: dt.datetime | None,
    on_batch: Any = None,
) -> int:
    """Insert ``count`` new codes linked to one product, in batches of ``CREATE_BATCH`` codes,
    each batch its own transaction (codes and links together). Returns the number inserted.

    A batch cut short inserts nothing; the batches before it stay, and the next adjustment
    creates only what is still missing.
    """
    made = 0
    while made < count:
        size = min(CREATE_BATCH, count - made)
        insert = _copy_batch if FAST_PATH and is_postgresql() else _bulk_batch
        with transaction.atomic():
            insert(
                product_id,
                size,
                amount=amount,
                redemption_type=redemption_type,
                activation=activation,
                expiration=expiration,
            )
        made += size
        if on_batch:
            on_batch(size)
    return made


def _bulk_batch(
    product_id: int,
    size: int,
    *,
    amount: Decimal,
    redemption_type: str,
    activation: dt.datetime | None,
    expiration: dt.datetime | None,
) -> None:
    discounts = Discount.objects.bulk_create(
        [
            Discount(
                discount_code=new_code(),
                amount=amount,
                discount_type=Discount.DiscountType.FIXED_PRICE,
                redemption_type=redemption_type,
                payment_type=Discount.PaymentType.SALES,
                is_bulk=True,
                is_active=True,
                activation_date=activation,
                expiration_date=expiration,
            )
            for _ in range(size)
        ],
        batch_size=INSERT_BATCH,
    )
    DiscountProduct.objects.bulk_create(
        [DiscountProduct(discount_id=d.pk, product_id=product_id) for d in discounts],
        batch_size=INSERT_BATCH,
    )


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` fresh values of a table's id sequence, in one query (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(table: str, columns: Sequence[str], rows: Any) -> int:
    """Stream rows into a table with psycopg ``COPY ... FROM STDIN``; returns the row count.

    The statement is recorded in ``connection.queries`` when queries are being logged.
    """
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    started = time.perf_counter()
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {count} rows", "time": f"{time.perf_counter() - started:.3f}"}
        )
    return count


def _copy_batch(
    product_id: int,
    size: int,
    *,
    amount: Decimal,
    redemption_type: str,
    activation: dt.datetime | None,
    expiration: dt.datetime | None,
) -> None:
    ids = reserve_ids(Discount._meta.db_table, size)
    now = timezone.now()
    fixed = (
        amount,
        Discount.DiscountType.FIXED_PRICE.value,
        redemption_type,
        Discount.PaymentType.SALES.value,
        True,
        True,
        activation,
        expiration,
        now,
        now,
    )
    copy_rows(Discount._meta.db_table, DISCOUNT_COLUMNS, ((pk, new_code(), *fixed) for pk in ids))
    copy_rows(
        DiscountProduct._meta.db_table,
        ("discount_id", "product_id"),
        ((pk, product_id) for pk in ids),
    )
