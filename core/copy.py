"""Bulk transfers on PostgreSQL in the binary format: inserts by one ``COPY … FROM STDIN``, and
large values read by a query (``binary_fetchone``).

Each value travels in its column type's binary form, so neither the client nor the server
formats or parses text: for thousands of rows a second (usage records and their log entries)
this costs less than half of the text format on the client and less on the server too; a
``bytea`` of tens of megabytes is not written out and read back as hexadecimal text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from django.db import connection, models

_MODIFIERS = re.compile(r"\(.*\)")


def column_types(model: type[models.Model], columns: Sequence[str]) -> list[str]:
    """The PostgreSQL type of each column of ``model``, without modifiers (``varchar(64)`` → ``varchar``)."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    return [_MODIFIERS.sub("", str(fields[c].db_type(connection))).strip() for c in columns]


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``model``'s table with one binary COPY.

    PostgreSQL only. Values must be of their column's Python type (``int`` for integer
    columns, ``float`` for double precision, ``Decimal`` for numeric, ``bytes`` for bytea).
    """
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN (FORMAT BINARY)".format(
        quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    )
    types = column_types(model, columns)
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def binary_fetchone(sql: str, params: Sequence[Any]) -> Any:
    """The first row of ``sql`` with its values in the binary format, on this connection and in its
    transaction (PostgreSQL only): ``bytea`` arrives as ``bytes`` without passing through text.
    Errors are raised as Django's database errors."""
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = psycopg.Cursor(cursor.cursor.connection)
        try:
            raw.execute(sql, params, binary=True, prepare=False)  # no server-side statement left behind
            return raw.fetchone()
        finally:
            raw.close()
