"""Rows that decisions read, sealed in the log: every change appends the row's digest, verify compares.

A covered table (:func:`cover`) is one whose rows a later decision or report reads: money
records, review steps, findings, clawbacks, payments (the list is in ``docs/log.md``). Each
time the platform writes such a row (``post_save``, ``post_delete``, or :func:`seal` after a
bulk ``update``), the row's *canonical text* — its checked fields, each written as
``name=<length>:<value>;`` (``name=-;`` for NULL) — is computed by the database from the
stored row, and one ``row_state`` entry is appended to the log in the same transaction::

    {"digest": sha256(canonical text) in hex, or null when the row was deleted,
     "row": primary key, "table": db table, "type": "row_state"}

A :class:`RowSeal` row (append-only) keeps the canonical text beside the entry's leaf index,
so that the database can compare each row with the latest seal of that row in one set-wise
query per table (:func:`row_mismatches`); verification checks each seal against its entry
(:class:`RowStateCheck`), so neither the row, the seal nor the entry can change unseen.

The canonical text is computed only in SQL (:func:`canon_sql`), once when sealing and
once when checking, so Python and the database can never disagree on how a value is
written; Python only reads two canonical texts back to name the fields that differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import rfc8785
from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext as _

from ledger.models import RowSeal
from ledger.unchanged import Verified, written_since
from ledger.windows import EntryMeta, entries_where

ROW_KIND = "row_state"
CHUNK = 900  # SQLite allows 999 parameters per statement

_TEXT = {"CharField", "TextField", "SlugField", "EmailField", "GenericIPAddressField", "UUIDField"}
_INTEGER = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}


@dataclass(frozen=True)
class Covered:
    """One covered table: its model, the fields checked, and whom its rows concern."""

    model: type[models.Model]
    fields: tuple[str, ...]  # attribute names (``actor_id`` for a foreign key)
    enterprise_sql: str  # SQL over alias ``t`` giving the enterprise a row concerns, or NULL

    @property
    def table(self) -> str:
        return self.model._meta.db_table


_COVERED: dict[str, Covered] = {}


def covered_tables() -> list[Covered]:
    """Every covered table, in the order they were registered."""
    return list(_COVERED.values())


def cover(model: type[models.Model], fields: Sequence[str], *, enterprise_sql: str = "NULL") -> None:
    """Seal every change of ``model``'s rows in the log and have verification check ``fields``.

    Called from an app's ``ready``. ``enterprise_sql`` (SQL over the row's alias ``t``) says
    which enterprise each entry concerns, for the entry API's scoping.
    """
    pk = model._meta.pk
    assert pk is not None and pk.get_internal_type() in _INTEGER, "covered rows have integer keys"
    attnames = tuple(model._meta.get_field(name).attname for name in fields)  # type: ignore[union-attr]
    spec = Covered(model, attnames, enterprise_sql)
    _COVERED[spec.table] = spec
    uid = f"ledger.rows:{spec.table}"
    post_save.connect(_saved, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(_deleted, sender=model, weak=False, dispatch_uid=uid)


def _spec(model: type[models.Model]) -> Covered:
    return _COVERED[model._meta.db_table]


def _pk_column(spec: Covered) -> str:
    pk = spec.model._meta.pk
    assert pk is not None
    return connection.ops.quote_name(str(pk.column))


def _saved(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # loaddata (a restore) brings its own log
        return
    spec = _spec(sender)
    update_fields = kwargs.get("update_fields")
    if update_fields is not None:
        names = {sender._meta.get_field(f).attname for f in update_fields}  # type: ignore[union-attr]
        if not names & set(spec.fields):
            return
    seal(sender, [instance.pk])


def _deleted(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    seal(sender, [instance.pk])


# The canonical text, in SQL ------------------------------------------------------------


def _value_sql(field: models.Field[Any, Any], column: str, vendor: str) -> str:
    kind = field.get_internal_type()
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        kind = target.get_internal_type()
        if kind in {"AutoField", "BigAutoField", "SmallAutoField"}:
            kind = "BigIntegerField"
    if kind in _TEXT:
        return f"CAST({column} AS TEXT)"
    if kind in _INTEGER:
        return f"CAST({column} AS TEXT)"
    if kind == "DecimalField":
        places = int(field.decimal_places)  # type: ignore[attr-defined]
        if vendor == "postgresql":
            return f"CAST(ROUND({column}, {places}) AS TEXT)"
        return f"printf(char(37) || '.{places}f', {column})"  # char(37) is '%', kept out of the SQL text
    if kind == "BooleanField":
        return f"CASE WHEN {column} THEN '1' ELSE '0' END"
    if kind == "DateField":
        if vendor == "postgresql":
            return f"to_char({column}, 'YYYY-MM-DD')"
        return f"CAST({column} AS TEXT)"
    if kind == "DateTimeField":
        if vendor == "postgresql":
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        # Django stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        return f"CASE WHEN length({column}) = 19 THEN {column} || '.000000' ELSE CAST({column} AS TEXT) END"
    raise TypeError(f"{field} of type {kind} cannot be covered")


def canon_sql(spec: Covered, alias: str = "t") -> str:
    """The SQL expression of a row's canonical text (``name=<length>:<value>;`` per field)."""
    vendor = connection.vendor
    parts = []
    for attname in spec.fields:
        field = next(f for f in spec.model._meta.concrete_fields if f.attname == attname)
        column = f"{alias}.{connection.ops.quote_name(str(field.column))}"
        value = _value_sql(field, column, vendor)
        parts.append(
            f"(CASE WHEN {column} IS NULL THEN '{attname}=-;' ELSE "
            f"'{attname}=' || CAST(LENGTH({value}) AS TEXT) || ':' || {value} || ';' END)"
        )
    return " || ".join(parts) if parts else "''"


def parse_canon(text: str | None) -> dict[str, str | None]:
    """The field values a canonical text holds (``None`` for NULL); raises ValueError if malformed."""
    out: dict[str, str | None] = {}
    pos = 0
    if text is None:
        return out
    while pos < len(text):
        eq = text.index("=", pos)
        name = text[pos:eq]
        if text.startswith("-;", eq + 1):
            out[name] = None
            pos = eq + 3
            continue
        colon = text.index(":", eq)
        length = int(text[eq + 1 : colon])
        value = text[colon + 1 : colon + 1 + length]
        if text[colon + 1 + length : colon + 2 + length] != ";":
            raise ValueError("malformed canonical text")
        out[name] = value
        pos = colon + 2 + length
    return out


def digest(canon: str | None) -> str | None:
    return None if canon is None else hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()


def entry_bytes(table: str, row_id: int, canon: str | None) -> bytes:
    """The exact bytes logged for one seal; the same when sealing and when verifying."""
    return rfc8785.dumps({"type": ROW_KIND, "table": table, "row": row_id, "digest": digest(canon)})


def looks_like_row_entry(data: bytes) -> bool:
    return data.startswith(b'{"digest":') and b'"type":"row_state"' in data


# Sealing -------------------------------------------------------------------------------


def _canons(spec: Covered, ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
    """The canonical text and enterprise of the rows ``ids`` that exist, read from the database."""
    table = connection.ops.quote_name(spec.table)
    pk = _pk_column(spec)
    found: dict[int, tuple[str, int | None]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT t.{pk}, {canon_sql(spec)}, {spec.enterprise_sql} FROM {table} t"  # noqa: S608 - identifiers from the models
                f" WHERE t.{pk} IN ({marks})",
                chunk,
            )
            for row_id, canon, enterprise in cursor.fetchall():
                found[int(row_id)] = (canon, None if enterprise is None else int(enterprise))
    return found


def seal(model: type[models.Model], ids: Iterable[Any]) -> list[int]:
    """Append the current state of rows ``ids`` of a covered ``model`` to the log (in the caller's
    transaction); a row that no longer exists is sealed as deleted. Returns the leaf indexes."""
    from ledger.actions import append_entries

    spec = _spec(model)
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return []
    with transaction.atomic():
        found = _canons(spec, wanted)
        datas, enterprises, canons = [], [], []
        for row_id in wanted:
            canon, enterprise = found.get(row_id, (None, None))
            datas.append(entry_bytes(spec.table, row_id, canon))
            enterprises.append(enterprise)
            canons.append(canon)
        leaves = append_entries(datas, kind=ROW_KIND, enterprise_id=enterprises)
        RowSeal.objects.bulk_create(
            RowSeal(leaf_index=leaf, tbl=spec.table, row_id=row_id, canon=canon)
            for leaf, row_id, canon in zip(leaves, wanted, canons, strict=True)
        )
    return leaves


def seal_unsealed(model: type[models.Model]) -> int:
    """Seal every row of ``model`` that has no seal yet (the baseline when coverage begins); the count."""
    spec = _spec(model)
    table = connection.ops.quote_name(spec.table)
    pk = _pk_column(spec)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.{pk} FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM ledger_rowseal s"  # noqa: S608 - identifiers from the models
            f" WHERE s.tbl = %s AND s.row_id = t.{pk}) ORDER BY t.{pk}",
            [spec.table],
        )
        ids = [row_id for (row_id,) in cursor.fetchall()]
    seal(model, ids)
    return len(ids)


# Checking ------------------------------------------------------------------------------


class Mismatch(NamedTuple):
    """A covered row that differs from its latest seal: which row, what differs (``fields``:
    the differing field names; empty when the row or its seal is missing), and the seal's leaf."""

    table: str
    row_id: int
    leaf: int | None
    what: str  # "edited", "unsealed", "deleted", "revived"
    fields: tuple[str, ...]


def _latest_sql(size_param: bool) -> str:
    bound = " AND leaf_index < %s" if size_param else ""
    return (
        "SELECT row_id, MAX(leaf_index) AS leaf FROM ledger_rowseal"  # noqa: S608 - fixed text
        f" WHERE tbl = %s{bound} GROUP BY row_id"
    )


def _differing(seal_canon: str | None, row_canon: str | None) -> tuple[str, ...]:
    try:
        old, new = parse_canon(seal_canon), parse_canon(row_canon)
    except ValueError:
        return ()
    return tuple(name for name in dict.fromkeys([*old, *new]) if old.get(name, "\0") != new.get(name, "\0"))


def _mismatch(table: str, row_id: int, leaf: Any, seal_canon: Any, row_canon: Any) -> Mismatch:
    if leaf is None:
        return Mismatch(table, row_id, None, "unsealed", ())
    if row_canon is None:
        return Mismatch(table, row_id, int(leaf), "deleted", ())
    if seal_canon is None:
        return Mismatch(table, row_id, int(leaf), "revived", ())
    return Mismatch(table, row_id, int(leaf), "edited", _differing(seal_canon, row_canon))


def table_mismatches(spec: Covered, size: int | None = None) -> list[Mismatch]:
    """The rows of one covered table that differ from their latest seal, found by the database.

    One query: each row joined to its latest seal (within the first ``size`` entries), the
    canonical text recomputed and compared in SQL; only differing rows come back.
    """
    table = connection.ops.quote_name(spec.table)
    pk = _pk_column(spec)
    canon = canon_sql(spec)
    bounded = size is not None
    params: list[Any] = [spec.table, *([size] if bounded else [])]
    sql = (
        f"WITH latest AS ({_latest_sql(bounded)}) "  # noqa: S608 - identifiers from the models
        f"SELECT t.{pk}, l.leaf, s.canon, {canon} FROM {table} t"
        f" LEFT JOIN latest l ON l.row_id = t.{pk} LEFT JOIN ledger_rowseal s ON s.leaf_index = l.leaf"
        f" WHERE l.leaf IS NULL OR s.canon IS NULL OR s.canon <> ({canon})"
        f" UNION ALL SELECT l.row_id, l.leaf, s.canon, NULL FROM latest l"
        f" JOIN ledger_rowseal s ON s.leaf_index = l.leaf"
        f" WHERE s.canon IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{pk} = l.row_id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return sorted(
        (
            _mismatch(spec.table, int(row_id), leaf, seal_canon, row_canon)
            for row_id, leaf, seal_canon, row_canon in found
        ),
        key=lambda m: m.row_id,
    )


def table_mismatches_rowwise(spec: Covered, size: int | None = None) -> list[Mismatch]:
    """:func:`table_mismatches` row by row in Python: every row's canonical text and every latest
    seal read, then compared here. The reference the set-wise query is tested against."""
    table = connection.ops.quote_name(spec.table)
    pk = _pk_column(spec)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.{pk}, {canon_sql(spec)} FROM {table} t")  # noqa: S608 - identifiers from the models
        rows = {int(row_id): canon for row_id, canon in cursor.fetchall()}
        bound = " AND leaf_index < %s" if size is not None else ""
        cursor.execute(
            f"SELECT row_id, leaf_index, canon FROM ledger_rowseal WHERE tbl = %s{bound} ORDER BY leaf_index",  # noqa: S608 - fixed text
            [spec.table, *([size] if size is not None else [])],
        )
        latest = {int(row_id): (leaf, canon) for row_id, leaf, canon in cursor.fetchall()}
    out = []
    for row_id in sorted(rows.keys() | latest.keys()):
        leaf, seal_canon = latest.get(row_id, (None, None))
        row_canon = rows.get(row_id)
        if row_id not in rows and (leaf is None or seal_canon is None):
            continue  # deleted, and sealed as deleted
        if leaf is not None and seal_canon is not None and seal_canon == row_canon:
            continue
        out.append(_mismatch(spec.table, row_id, leaf, seal_canon, row_canon))
    return out


def row_mismatches(size: int | None = None, *, setwise: bool = True) -> Iterator[Mismatch]:
    """Every covered row that differs from its latest seal, table by table."""
    check = table_mismatches if setwise else table_mismatches_rowwise
    for spec in covered_tables():
        yield from check(spec, size)


def describe(m: Mismatch) -> str:
    """A mismatch in words, naming the table, the row and each differing field."""
    spec = _COVERED.get(m.table)
    model = spec.model if spec is not None else None
    row = _("%(table)s #%(id)s") % {
        "table": model._meta.verbose_name if model is not None else m.table,
        "id": m.row_id,
    }
    if m.what == "unsealed":
        return _("%(row)s没有日志条目（未纳入校验，或被直接插入）") % {"row": row}
    if m.what == "deleted":
        return _("%(row)s缺失（被删除），其最新日志为第 %(index)s 条") % {"row": row, "index": m.leaf}
    if m.what == "revived":
        return _("%(row)s在第 %(index)s 条日志中已删除，却仍然存在") % {"row": row, "index": m.leaf}
    labels = []
    for name in m.fields or ("?",):
        field = next((f for f in model._meta.concrete_fields if f.attname == name), None) if model else None
        labels.append(f"“{field.verbose_name}”" if field is not None else f"“{name}”")
    return _("%(row)s的%(fields)s与第 %(index)s 条日志记载的不一致（被改动）") % {
        "row": row,
        "fields": "、".join(labels),
        "index": m.leaf,
    }


class RowStateCheck:
    """The ``ledger.verify`` check of ``row_state`` entries against their seals (one per entry)."""

    kind = ROW_KIND
    prefix = b'{"digest":'

    def fetch(self, start: int, end: int) -> dict[int, tuple[Any, Any, Any]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT leaf_index, tbl, row_id, canon FROM ledger_rowseal WHERE leaf_index >= %s AND leaf_index < %s",
                [start, end],
            )
            return {leaf: (tbl, row_id, canon) for leaf, tbl, row_id, canon in cursor.fetchall()}

    def check(
        self, fetched: dict[int, tuple[Any, Any, Any]], entries: list[EntryMeta]
    ) -> Iterable[tuple[int | None, str]]:
        for entry in entries:
            seal_row = fetched.pop(entry.leaf, None)
            if seal_row is None:
                yield entry.leaf, _("第 %(index)s 条行状态日志对应的记录缺失") % {"index": entry.leaf}
                continue
            tbl, row_id, canon = seal_row
            try:
                expected = entry_bytes(str(tbl), int(row_id), canon if canon is None else str(canon))
            except (TypeError, ValueError):
                expected = b""
            if expected != entry.data:
                yield entry.leaf, _("第 %(index)s 条行状态日志与其记录不一致") % {"index": entry.leaf}
        for leaf in sorted(fetched):
            yield leaf, _("行状态记录指向的第 %(index)s 条不是行状态日志") % {"index": leaf}

    def beyond(self, size: int) -> Iterable[tuple[int | None, str]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT MIN(leaf_index) FROM ledger_rowseal WHERE leaf_index >= %s", [size])
            (first,) = cursor.fetchone() or (None,)
        if first is not None:
            yield size, _("行状态记录指向超出日志大小的第 %(index)s 条") % {"index": first}

    def claims(self, data: bytes) -> bool:
        return looks_like_row_entry(data)

    def recheck(self, size: int, verified: Verified) -> Iterable[tuple[int | None, str]]:
        since, params = written_since("s", verified)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.leaf_index, s.tbl, s.row_id, s.canon FROM ledger_rowseal s WHERE s.leaf_index < %s"  # noqa: S608 - fixed text, values are parameters
                f" AND (s.leaf_index >= %s OR {since} OR s.leaf_index = ANY(%s))",
                [size, verified.tree_size, *params, sorted(verified.named)],
            )
            fetched = {leaf: (tbl, row_id, canon) for leaf, tbl, row_id, canon in cursor.fetchall()}
        entries = entries_where(ROW_KIND, "leaf_index = ANY(%s)", [sorted(fetched)]) if fetched else {}
        return list(self.check(fetched, [entries[leaf] for leaf in sorted(entries)]))


def check_covered_rows(size: int) -> Iterable[tuple[int | None, str]]:
    """The verify pass over every covered table (registered with ``ledger.verify``)."""
    for mismatch in row_mismatches(size):
        yield None, describe(mismatch)
