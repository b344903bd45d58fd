"""PostgreSQL planner settings for a few statements, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

# Lets PostgreSQL split one large scan among its parallel workers whatever the size of the
# table: for the checks that read every row of a window (CPU-bound, one pass).
PARALLEL = {
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
    "min_parallel_index_scan_size": "0",
}


@contextmanager
def planner(cursor: Any, **values: str) -> Iterator[None]:
    """PostgreSQL planner settings for the statements inside, restored afterwards.

    ``SET LOCAL`` alone would last until the end of the caller's transaction and change the
    plans of every later query in it.
    """
    names = sorted(values)
    cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
    before = dict(zip(names, cursor.fetchone(), strict=True))
    # In a savepoint: if a statement inside fails, rolling it back also undoes the settings.
    with transaction.atomic():
        for name in names:
            cursor.execute("SELECT set_config(%s, %s, true)", [name, values[name]])
        yield
        for name in names:
            cursor.execute("SELECT set_config(%s, %s, true)", [name, before[name]])
