"""The checks ``ledger.verify`` runs besides its own: each app whose rows copy log entries registers
an :class:`EntryCheck` for their kind, and a set-wise check of a table (``register_table_check``),
from its ``ready``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ledger.unchanged import Verified
from ledger.windows import EntryMeta


class EntryCheck(Protocol):
    """Checks, for one kind of entry, the rows that copy entries of that kind.

    ``fetch`` reads what the check needs for entries ``[start, end)`` (it runs while the
    connection is free); ``check`` compares without the database and yields
    ``(index, message)`` problems; ``beyond`` reports rows pointing at or past ``size``;
    ``claims`` says whether bytes logged under another kind look like this kind's entries;
    ``recheck`` reads and checks the rows an incremental run checks (``ledger.unchanged``);
    a check may name ``prefix``, the bytes all its entries start with, so that entries
    starting otherwise are passed over without a call.
    """

    kind: str

    def fetch(self, start: int, end: int) -> Any: ...

    def check(self, fetched: Any, entries: list[EntryMeta]) -> Iterable[tuple[int | None, str]]: ...

    def beyond(self, size: int) -> Iterable[tuple[int | None, str]]: ...

    def claims(self, data: bytes) -> bool: ...

    def recheck(self, size: int, verified: Verified) -> Iterable[tuple[int | None, str]]:
        """Problems of the rows of entries below ``size`` the ``verified`` mark does not vouch for."""
        ...


ENTRY_CHECKS: dict[str, EntryCheck] = {}


def register_entry_check(check: EntryCheck) -> None:
    """Have verification run ``check`` on every entry of ``check.kind`` (an app's ``ready``)."""
    ENTRY_CHECKS[check.kind] = check


TableCheck = Callable[[int], Iterable[tuple[int | None, str]]]
TABLE_CHECKS: list[TableCheck] = []


def register_table_check(check: TableCheck) -> None:
    """Have verification run ``check(tree_size)`` once, after the entries (set-wise table checks)."""
    if check not in TABLE_CHECKS:
        TABLE_CHECKS.append(check)
