"""A query the ORM builds once per process, then only runs.

Building a queryset with subqueries and compiling it to SQL costs Django far more than the
database takes to run it (about 1 ms of CPU for a code read with its three ``EXISTS``, against
0.2 ms of SQL). On checkout's path ``compiled_first`` keeps the query's one definition, the
queryset its caller builds, and pays for building it once: the builder is called with a distinct
placeholder number for each named value, Django's compiler turns that into SQL, and each later
call runs the SQL with the placeholders replaced by its values and makes the instance as the
ORM does (the same columns, the same converters, the annotations as attributes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)

#: Placeholder numbers: far below any primary key, one per named value.
_PLACEHOLDER = -7_340_000_000_000


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    using: str
    sql: str
    params: tuple[Any, ...]
    slots: tuple[str | None, ...]  # per parameter: the named value it takes, or None (kept)
    fields: tuple[str, ...]  # the model's columns, in the order selected
    first: int  # their position in the row
    annotations: tuple[tuple[str, int], ...]
    compiler: SQLCompiler
    related: tuple[Any, ...]  # Django's populators of the select_related objects


@functools.cache
def _compiled(build: Callable[..., QuerySet[Any]], names: tuple[str, ...]) -> _Compiled:
    placeholders = {name: _PLACEHOLDER - index for index, name in enumerate(names)}
    queryset = build(**placeholders)[:1]
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    slots = tuple(
        next((n for n, p in placeholders.items() if type(v) is int and v == p), None)
        for v in params
    )
    missing = set(names) - set(slots)
    if missing:
        raise ValueError(
            f"{build.__qualname__} does not pass {', '.join(sorted(missing))} to the query as a "
            "parameter: only values the SQL takes as parameters can be named"
        )
    info = compiler.klass_info
    if info is None:
        raise ValueError(f"{build.__qualname__} must return a queryset of model instances")
    positions = info["select_fields"]
    return _Compiled(
        model=info["model"],
        using=queryset.db,
        sql=sql,
        params=tuple(params),
        slots=slots,
        fields=tuple(compiler.select[i][0].target.attname for i in positions),
        first=positions[0],
        annotations=tuple(compiler.annotation_col_map.items()),
        compiler=compiler,
        # Django 5.2 takes (klass_info, select, db); the stubs describe a later release.
        related=tuple(
            get_related_populators(info, compiler.select, queryset.db)  # type: ignore[call-arg]
        ),
    )


def compiled_first(build: Callable[..., QuerySet[M]], **values: int) -> M | None:
    """The first row of ``build(**values)`` (in the order it sets), as its model, with its
    ``select_related`` objects and the queryset's annotations; None when there is none. What
    ``QuerySet.first`` gives, without building the queryset again (Django's own compiler, value
    converters and related-object populators make it, as ``QuerySet`` iteration does).

    ``build``: a module-level function returning the queryset (its SQL is built once per process
    and ``build``); ``values``: the integers (primary keys) it puts in the query, each passed to
    it by name. Raises ``ValueError`` when a named value does not reach the SQL as a parameter.
    A locking queryset (``select_for_update``) must be run in a transaction, as always.
    """
    compiled = _compiled(build, tuple(sorted(values)))
    bound = [
        values[slot] if slot is not None else value
        for value, slot in zip(compiled.params, compiled.slots, strict=True)
    ]
    connection = connections[compiled.using]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, bound)
        row = cursor.fetchone()
    if row is None:
        return None
    row = next(iter(compiled.compiler.results_iter(results=[[row]])))
    end = compiled.first + len(compiled.fields)
    instance = compiled.model.from_db(
        compiled.using, list(compiled.fields), row[compiled.first : end]
    )
    for populator in compiled.related:
        populator.populate(row, instance)
    for name, position in compiled.annotations:
        setattr(instance, name, row[position])
    return instance  # type: ignore[return-value]
