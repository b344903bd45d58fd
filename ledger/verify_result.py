"""What a verification of the log found: its problems, each at a leaf or at none, and what the
run saw (``ledger.verify`` fills it in)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    index: int | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class VerifyResult:
    tree_size: int = 0
    root_hash: bytes = b""
    hash_alg: str = ""
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    # On PostgreSQL, the xmin of the database snapshot the run started from: rows written by a
    # transaction below it are rows the run read (``ledger.unchanged``).
    snapshot_xmin: int | None = None
    # The leaves at which the entry checks found a problem with the rows copied from entries,
    # all of them; None when one was found at no leaf or there were too many to keep.
    rows_named: set[int] | None = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None
