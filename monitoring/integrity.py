"""Usage rows against their log entries: what ``yingdu ledger verify`` and reconciliation check.

A usage row copies its fields from the log entry it was accepted as (the record's canonical
JSON). Decisions read the rows, so each row must still say what its entry says: the entry's
SHA-256, every copied field, the provider and node, and the enterprise the entry names.
The same entry's metadata (kind, enterprise, provider) must agree with its bytes.

Rows are read with plain SQL and converted here value by value, so a column holding
something its type cannot (text in a number column, a BLOB turned TEXT) is a problem
naming the row, never an exception.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from enterprises.models import Enterprise
from ledger.models import Entry
from ledger.verify import EntryMeta, as_bytes
from monitoring.models import Node
from monitoring.schemas import FIELD_LABELS, RecordError, UsageFields, parse_record

KIND = "usage_record"
CHUNK = 900  # SQLite allows 999 parameters per statement


# Readers of raw column values; the first line of each is the common case, for speed.


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _moment(value: Any) -> dt.datetime:
    if type(value) is dt.datetime and value.tzinfo is not None:
        return value
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _decimal(value: Any) -> Decimal:
    if type(value) is Decimal:
        return value
    if isinstance(value, bool):
        raise TypeError("not a number")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _integer(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError("not an integer")
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError("not an integer")
    return int(number)


def _float(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError("not a number")
    return float(value)


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("not text")
    return value


def _optional_int(value: Any) -> int | None:
    return value if value is None or type(value) is int else _integer(value)


# Column, how it is read, and the field of the entry it copies (None: compared separately).
_COLUMNS: tuple[tuple[str, Callable[[Any], Any], str | None], ...] = (
    ("record_id", _uuid, "record_id"),
    ("entry_sha256", _text, None),
    ("provider_id", _optional_int, None),
    ("node_id", _optional_int, None),
    ("enterprise_id", _optional_int, None),
    ("node_name", _text, "node_id"),
    ("enterprise_uscc", _text, "enterprise_uscc"),
    ("work_ref", _text, "work_ref"),
    ("job_id", _text, "job_id"),
    ("scenario", _text, "scenario"),
    ("gpu_model", _text, "gpu_model"),
    ("gpu_uuid", _text, "gpu_uuid"),
    ("gpu_count", _integer, "gpu_count"),
    ("started_at", _moment, "started_at"),
    ("ended_at", _moment, "ended_at"),
    ("gpu_seconds", _float, "gpu_seconds"),
    ("avg_util_pct", _float, "avg_util_pct"),
    ("max_mem_mib", _integer, "max_mem_mib"),
    ("energy_wh", _float, "energy_wh"),
    ("cost_cny", _decimal, "cost_cny"),
    ("signature", _text, "signature"),
)
_SELECT = "id, leaf_index, " + ", ".join(name for name, _r, _f in _COLUMNS)
_READERS = tuple(read for _n, read, _f in _COLUMNS)
_COPIED = tuple(field for _n, _r, field in _COLUMNS if field is not None)
_LABELS = {
    "entry_sha256": "条目SHA-256(entry_sha256)",
    "provider_id": "算力提供方(provider)",
    "node_id": "节点(node)",
    "enterprise_id": "企业(enterprise)",
    "node_name": FIELD_LABELS["node_id"],
}


@dataclass(frozen=True)
class UsageRow:
    """One usage row as stored: its id, leaf index and raw column values by name."""

    pk: Any
    leaf_index: Any
    raw: tuple[Any, ...]  # in the order of _COLUMNS

    @property
    def values(self) -> dict[str, Any]:
        return dict(zip((name for name, _r, _f in _COLUMNS), self.raw, strict=True))


def _rows(sql_where: str, params: Sequence[Any]) -> list[UsageRow]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_SELECT} FROM monitoring_usagerecord WHERE {sql_where} ORDER BY leaf_index",  # noqa: S608 - fixed column list, values are parameters
            list(params),
        )
        found = cursor.fetchall()
    return [UsageRow(r[0], r[1], tuple(r[2:])) for r in found]


def parse_entry(data: bytes) -> UsageFields | None:
    """The usage record an entry holds, read with the ingestion's own checks; ``None`` if it is none."""
    try:
        record = json.loads(data)
        return parse_record(record, require_signature=False)
    except (ValueError, RecordError, RecursionError):
        return None


def looks_like_usage_entry(data: bytes) -> bool:
    # RFC 8785 sorts the keys: every usage record starts with its avg_util_pct.
    return data.startswith(b'{"avg_util_pct":') and parse_entry(data) is not None


class _Lookups:
    """Nodes and enterprises, read once per verification or reconciliation."""

    def __init__(self) -> None:
        self.nodes = {
            pk: (name, provider)
            for pk, name, provider in Node.objects.values_list("pk", "node_id", "provider_id")
        }
        self.node_by_name = {name: (pk, provider) for pk, (name, provider) in self.nodes.items()}
        self.enterprise_of_uscc = dict(Enterprise.objects.values_list("uscc", "pk"))


def _row_label(row: UsageRow) -> str:
    return _("算力使用记录 #%(id)s") % {"id": row.pk}


def row_problems(row: UsageRow, entry: EntryMeta | None, lookups: _Lookups) -> list[str]:
    """What is wrong with ``row`` against its ``entry`` (and the entry against its bytes); [] if nothing."""
    if entry is None:
        return [
            _("%(row)s指向的第 %(index)s 条日志缺失或不是使用记录")
            % {"row": _row_label(row), "index": row.leaf_index}
        ]
    fields = parse_entry(entry.data)
    if fields is None:
        return [_("第 %(index)s 条不是有效的算力使用记录") % {"index": entry.leaf}]
    if _agrees(row, entry, fields, lookups):
        return []
    label = _row_label(row)
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, read, _field in _COLUMNS:
        try:
            values[name] = read(row.values[name])
        except (ValueError, TypeError, ArithmeticError, InvalidOperation):
            problems.append(
                _("%(row)s的%(field)s无法读取（字段内容或类型被改动）")
                % {"row": label, "field": _LABELS.get(name, FIELD_LABELS.get(name, name))}
            )
    expected: dict[str, Any] = {
        name: getattr(fields, field) for name, _r, field in _COLUMNS if field is not None
    }
    expected["entry_sha256"] = hashlib.sha256(entry.data).hexdigest()
    expected["provider_id"] = entry.provider_id
    expected["enterprise_id"] = entry.enterprise_id
    for name, want in expected.items():
        if name in values and values[name] != want:
            problems.append(
                _("%(row)s的%(field)s与第 %(index)s 条日志不一致")
                % {
                    "row": label,
                    "field": _LABELS.get(name, FIELD_LABELS.get(name, name)),
                    "index": entry.leaf,
                }
            )
    node_pk = values.get("node_id")
    if node_pk is not None:
        node = lookups.nodes.get(node_pk)
        if node is None or node[0] != fields.node_id or node[1] != entry.provider_id:
            problems.append(
                _("%(row)s的节点与第 %(index)s 条日志中的节点“%(node)s”不符")
                % {"row": label, "index": entry.leaf, "node": fields.node_id}
            )
    problems.extend(entry_problems(entry, fields, lookups))
    return problems


def _agrees(row: UsageRow, entry: EntryMeta, fields: UsageFields, lookups: _Lookups) -> bool:
    """The common case, without building messages: every column equals what the entry says."""
    try:
        got = [read(value) for read, value in zip(_READERS, row.raw, strict=True)]
    except (ValueError, TypeError, ArithmeticError, InvalidOperation):
        return False
    record_id, sha, provider_id, node_pk, enterprise_id, *copied = got
    if (
        record_id != fields.record_id
        or provider_id != entry.provider_id
        or enterprise_id != entry.enterprise_id
        or copied != [getattr(fields, name) for name in _COPIED[1:]]
        or sha != hashlib.sha256(entry.data).hexdigest()
    ):
        return False
    if node_pk is not None and lookups.nodes.get(node_pk) != (fields.node_id, entry.provider_id):
        return False
    return not entry_problems(entry, fields, lookups)


def entry_problems(entry: EntryMeta, fields: UsageFields, lookups: _Lookups) -> list[str]:
    """The entry's enterprise and provider against the record its bytes hold."""
    problems = []
    if entry.enterprise_id is not None and entry.enterprise_id != lookups.enterprise_of_uscc.get(
        fields.enterprise_uscc
    ):
        problems.append(
            _("第 %(index)s 条的相关企业与其内容中的统一社会信用代码不符") % {"index": entry.leaf}
        )
    node = lookups.node_by_name.get(fields.node_id)
    if node is not None and entry.provider_id != node[1]:
        problems.append(
            _("第 %(index)s 条的相关算力提供方与其内容中的节点“%(node)s”不符")
            % {"index": entry.leaf, "node": fields.node_id}
        )
    return problems


class UsageEntryCheck:
    """The ``ledger.verify`` check of usage entries and their rows (registered in ``MonitoringConfig.ready``)."""

    kind = KIND

    def __init__(self) -> None:
        self._lookups: _Lookups | None = None

    def fetch(self, start: int, end: int) -> tuple[_Lookups, list[UsageRow]]:
        if self._lookups is None or start == 0:
            self._lookups = _Lookups()
        return self._lookups, _rows("leaf_index >= %s AND leaf_index < %s", [start, end])

    def check(
        self, fetched: tuple[_Lookups, list[UsageRow]], entries: list[EntryMeta]
    ) -> Iterable[tuple[int | None, str]]:
        lookups, rows = fetched
        by_index = {e.leaf: e for e in entries}
        seen: set[int] = set()
        for row in rows:
            try:
                index = _integer(row.leaf_index)
            except (ValueError, TypeError, ArithmeticError):
                yield None, _("%(row)s的日志叶序号无法读取") % {"row": _row_label(row)}
                continue
            if index in seen:
                yield (
                    index,
                    _("%(row)s与另一条记录指向同一条日志（第 %(index)s 条）")
                    % {
                        "row": _row_label(row),
                        "index": index,
                    },
                )
                continue
            seen.add(index)
            for message in row_problems(row, by_index.get(index), lookups):
                yield index, message
        for entry in entries:
            if entry.leaf in seen:
                continue
            yield entry.leaf, _("第 %(index)s 条算力使用记录的记录行缺失（被删除）") % {"index": entry.leaf}
            fields = parse_entry(entry.data)
            if fields is None:
                yield entry.leaf, _("第 %(index)s 条不是有效的算力使用记录") % {"index": entry.leaf}
            else:
                for message in entry_problems(entry, fields, lookups):
                    yield entry.leaf, message

    def beyond(self, size: int) -> Iterable[tuple[int | None, str]]:
        for row in _rows("leaf_index >= %s", [size])[:20]:
            yield (
                size,
                _("%(row)s指向超出日志大小的第 %(index)s 条")
                % {
                    "row": _row_label(row),
                    "index": row.leaf_index,
                },
            )

    def claims(self, data: bytes) -> bool:
        return looks_like_usage_entry(data)


def matching_leaves(leaf_indexes: Iterable[int]) -> set[int]:
    """Of these usage rows (by leaf index), those that match their log entry: what reconciliation may read."""
    wanted = sorted(set(leaf_indexes))
    if not wanted:
        return set()
    lookups = _Lookups()
    good: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        rows = _rows(f"leaf_index IN ({marks})", chunk)
        entries = {
            index: EntryMeta(index, kind, ent, prov, data)
            for index, kind, ent, prov, raw in Entry.objects.filter(
                leaf_index__in=chunk, kind=KIND
            ).values_list("leaf_index", "kind", "enterprise_id", "provider_id", "data")
            if (data := as_bytes(raw)) is not None
        }
        for row in rows:
            if row.leaf_index in entries and not row_problems(row, entries[row.leaf_index], lookups):
                good.add(row.leaf_index)
    return good
