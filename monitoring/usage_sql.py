"""The set-wise comparison of usage rows with their log entries, as PostgreSQL runs it: the SQL text
of the queries ``monitoring.integrity`` sends (one per window of the log, or per list of leaves)."""

from __future__ import annotations

KIND = "usage_record"

# On PostgreSQL one query per window joins each usage row to its entry, reads the entry's
# JSON with the database's own operators and compares every column as the row-by-row fast path
# does (``monitoring.integrity.agrees_fast``), and under the same premise: an entry's bytes passed
# ``parse_record`` when they were logged (strings where it wants strings, times with their
# zone, the cost a decimal text) and verification checks that they are unchanged since. It
# is stricter where the database reads a value differently from Python: a text with white
# space around it (the ingestion stripped it) or a number not written as the database
# writes it counts as different. So a row the query passes is one the row-by-row check
# passes; the rows it names, and the entries without a row, go to the row-by-row check,
# which decides and words the problem. A query the database refuses (a column whose type was
# changed, bytes that are not JSON) sends the window to the row-by-row check whole. SQLite
# keeps the row-by-row path.

# Python's str.strip() white space (the characters whose str.isspace() is true), as a character
# class, looked for at either end of any of the stripped texts (joined by |).
WHITE_SPACE = r"[\t\n\v\f\r\x1c-\x1f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_STRIPPED = (("node_name", "node_id"), ("work_ref", "work_ref"), ("job_id", "job_id"),
             ("gpu_model", "gpu_model"), ("gpu_uuid", "gpu_uuid"), ("enterprise_uscc", "enterprise_uscc"))  # fmt: skip


# The entry's fields as the query reads them: its JSON parsed once per row into typed columns
# (``json_to_record``: the text form, faster to parse than ``jsonb``; a key given twice reads as
# its last value, as Python's ``json`` reads it).
_RECORD = """json_to_record(convert_from(e.data, 'UTF8')::json) AS j(
    avg_util_pct double precision, cost_cny numeric, ended_at timestamptz, energy_wh double precision,
    enterprise_uscc text, gpu_count text, gpu_model text, gpu_seconds double precision, gpu_uuid text,
    job_id text, max_mem_mib text, node_id text, record_id text, scenario text, signature text,
    started_at timestamptz, work_ref text)"""


def agree_sql() -> str:
    """The PostgreSQL condition under which a usage row ``r`` certainly agrees with its entry ``e``
    (fields ``j``), its node ``n``, the entry's enterprise ``x`` and the nodes ``m`` of its name."""
    texts = " AND ".join(f"r.{column} = j.{key}" for column, key in _STRIPPED[:-1])
    joined = ", ".join(f"j.{key}" for _column, key in _STRIPPED)
    floats = " AND ".join(f"r.{k} = j.{k}" for k in ("gpu_seconds", "avg_util_pct", "energy_wh"))
    integers = " AND ".join(f"CAST(r.{k} AS TEXT) = j.{k}" for k in ("gpu_count", "max_mem_mib"))
    return f"""
        r.entry_sha256 = encode(sha256(e.data), 'hex')
        AND replace(CAST(r.record_id AS TEXT), '-', '') = replace(j.record_id, '-', '')
        AND r.provider_id IS NOT DISTINCT FROM e.provider_id
        AND r.enterprise_id IS NOT DISTINCT FROM e.enterprise_id
        AND {texts}
        AND r.enterprise_uscc = upper(j.enterprise_uscc)
        AND concat_ws('|', {joined}) !~ '(^|\\|){WHITE_SPACE}|{WHITE_SPACE}($|\\|)'
        AND r.scenario = j.scenario
        AND r.signature = COALESCE(j.signature, '')
        AND {integers}
        AND {floats}
        AND r.started_at = j.started_at
        AND r.ended_at = j.ended_at
        AND r.cost_cny = j.cost_cny
        AND (r.node_id IS NULL OR (n.id IS NOT NULL AND n.node_id = r.node_name
             AND n.provider_id IS NOT DISTINCT FROM e.provider_id))
        AND (e.enterprise_id IS NULL OR x.uscc = r.enterprise_uscc)
        AND (m.id IS NULL OR m.provider_id IS NOT DISTINCT FROM e.provider_id)
    """  # noqa: S608 - fixed text


def suspects_sql(where: str) -> str:
    # Hash joins to the few nodes and enterprises, a merge join to the entries: one pass over the
    # window's rows, which PostgreSQL may split among parallel workers.
    return f"""
        SELECT r.leaf_index FROM monitoring_usagerecord r
        LEFT JOIN ledger_entry e ON e.leaf_index = r.leaf_index AND e.kind = '{KIND}'
            AND {where.replace("leaf_index", "e.leaf_index")}  -- the entries' index read for the window only
        LEFT JOIN monitoring_node n ON n.id = r.node_id
        LEFT JOIN enterprises_enterprise x ON x.id = e.enterprise_id
        LEFT JOIN monitoring_node m ON m.node_id = r.node_name
        LEFT JOIN LATERAL {_RECORD} ON e.leaf_index IS NOT NULL
        WHERE {where.replace("leaf_index", "r.leaf_index")}
          AND (e.leaf_index IS NULL OR NOT COALESCE(({agree_sql()}), false))
        UNION
        SELECT leaf_index FROM monitoring_usagerecord WHERE {where}
        GROUP BY leaf_index HAVING COUNT(*) > 1
    """  # noqa: S608 - fixed text, values are parameters


def orphans_sql(where: str) -> str:
    return f"""
        SELECT e.leaf_index FROM ledger_entry e
        WHERE e.kind = '{KIND}' AND {where.replace("leaf_index", "e.leaf_index")}
          AND NOT EXISTS (SELECT 1 FROM monitoring_usagerecord r WHERE r.leaf_index = e.leaf_index)
    """  # noqa: S608 - fixed text, values are parameters
