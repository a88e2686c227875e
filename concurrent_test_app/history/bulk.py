"""Many rows in few statements: how a run's history is written, one round trip per batch.

A run writes a row per test and updates a row per test. ``executemany()`` sends one
statement per row on PostgreSQL (psycopg2 loops), so 2,000 tests cost 4,000 round trips:
about 1.1 s of a 4-second run of the bench's many_small suite, more than its tests took.
``QuerySet.bulk_create()`` and ``bulk_update()`` make one statement per batch, but compile a
model instance or a ``When`` per row and field first (``bulk_update()`` took 2.6 s for 2,000
tests on SQLite). Here the same statements are written as plain SQL: a multi-row ``INSERT``,
and an ``UPDATE .. SET column = CASE key WHEN .. THEN .. END`` per batch, cast where the
backend asks for it as Django's own ``bulk_update()`` does. Batches respect the backend's
limit on query parameters (SQLite's 999).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections
from django.db.models import Field, Model

from concurrent_test_app.history.store import CHUNK, chunks

# At most this many rows per UPDATE: its CASE is read through once per row it sets.
UPDATE_ROWS = 100


# Any: a field of any type.
def _fields(model: type[Model], names: Sequence[str]) -> list[Field[Any, Any]]:
    return [cast("Field[Any, Any]", model._meta.get_field(name)) for name in names]


# Any: the values of a row, of whatever types its columns take.
def insert_rows(
    alias: str, model: type[Model], names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (values of the fields ``names``, in order) into ``model``'s table."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = _fields(model, names)
    columns = ", ".join(quote(str(field.column)) for field in fields)
    table = quote(model._meta.db_table)
    one = f"({', '.join(['%s'] * len(names))})"
    size = max(1, min(CHUNK, connection.ops.bulk_batch_size(fields, rows)))
    with connection.cursor() as cursor:
        for batch in chunks(rows, size):
            values = ", ".join([one] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values}",
                [value for row in batch for value in row],
            )


def update_rows(
    alias: str,
    model: type[Model],
    names: Sequence[str],
    rows: list[tuple[Any, ...]],
    **same: Any,
) -> None:
    """Set the fields ``names`` of ``model``'s rows, each row (primary key, *values), and
    the fields in ``same`` to one value in all of them."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = _fields(model, names)
    constant = [
        (quote(str(field.column)), same[field.name]) for field in _fields(model, list(same))
    ]
    key = quote(str(model._meta.pk.column))
    # Each row takes two parameters per field (WHEN key THEN value) and one for the IN list.
    per_row = 2 * len(names) + 1
    limit = connection.features.max_query_params
    size = max(1, min(UPDATE_ROWS, (limit - len(same)) // per_row if limit else UPDATE_ROWS))
    needs_cast = connection.features.requires_casted_case_in_updates
    with connection.cursor() as cursor:
        for batch in chunks(rows, size):
            assignments = [f"{column} = %s" for column, _ in constant]
            params = [value for _, value in constant]
            for index, field in enumerate(fields, start=1):
                case = f"CASE {key} {' '.join(['WHEN %s THEN %s'] * len(batch))} END"
                if needs_cast:  # PostgreSQL types a CASE of parameters as text
                    case = f"CAST({case} AS {field.cast_db_type(connection)})"
                assignments.append(f"{quote(str(field.column))} = {case}")
                params += [value for row in batch for value in (row[0], row[index])]
            params += [row[0] for row in batch]
            cursor.execute(
                f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "
                f"WHERE {key} IN ({', '.join(['%s'] * len(batch))})",
                params,
            )
