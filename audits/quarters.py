"""Calendar quarters and the quarterly spot-check sample (每季度随机抽查, docs/audits.md) as pure
functions: the published algorithm, so anyone holding the checkpoint can recompute the sample."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

SHANGHAI = ZoneInfo("Asia/Shanghai")


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in Asia/Shanghai."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter such as ``2026Q3``, with its days and end instant in Asia/Shanghai."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = QUARTER_RE.match(text.strip().upper())
        if match is None:
            raise ValueError(_("季度“%(value)s”格式不正确，应为如 2026Q3") % {"value": text})
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def starts_at(self) -> dt.datetime:
        """The first instant of the quarter (Asia/Shanghai)."""
        return day_start(self.first_day)

    @property
    def ends_at(self) -> dt.datetime:
        """The first instant after the quarter's last day (Asia/Shanghai)."""
        return day_start(self.next().first_day)


def spot_check_seed(root_hash: bytes, quarter: Quarter | str) -> bytes:
    """``SHA-256(root hash bytes ‖ quarter id as ASCII)``."""
    return hashlib.sha256(bytes(root_hash) + str(quarter).encode("ascii")).digest()


def order_key(seed: bytes, application_id: int) -> bytes:
    """``SHA-256(seed ‖ application id as decimal ASCII)``: candidates are sorted by it, ascending."""
    return hashlib.sha256(seed + str(int(application_id)).encode("ascii")).digest()


def sample_size(n: int, *, rate: Decimal, min_count: int) -> int:
    """``k = max(min_count, ceil(rate × N))``, never more than N."""
    return min(n, max(min_count, math.ceil(rate * n)))


@dataclass(frozen=True)
class Sample:
    """A drawn spot-check sample: the seed, every candidate's order key, and the first k."""

    quarter: str
    seed: bytes
    ordered: tuple[tuple[int, bytes], ...]  # (application id, order key), ascending by key
    k: int

    @property
    def n(self) -> int:
        return len(self.ordered)

    @property
    def sample_ids(self) -> list[int]:
        return [app_id for app_id, _key in self.ordered[: self.k]]


def draw_sample(
    root_hash: bytes, quarter: Quarter | str, candidate_ids: Iterable[int], *, rate: Decimal, min_count: int
) -> Sample:
    """Draw the quarter's sample from the checkpoint root and the candidates (paid in the quarter)."""
    seed = spot_check_seed(root_hash, quarter)
    ordered = sorted(((int(i), order_key(seed, i)) for i in set(candidate_ids)), key=lambda item: item[1])
    k = sample_size(len(ordered), rate=rate, min_count=min_count)
    return Sample(str(quarter), seed, tuple(ordered), k)
