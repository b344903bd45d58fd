"""Reading usage uploads into docs/monitoring.md records (pure: no database).

Values that do not convert are passed on as they are, so the ingestion checks reject
the record with a reason that names the field, exactly as for the API. Record ids that
an upload does not carry are derived from its content (UUID 5), so importing the same
file twice answers ``duplicate`` instead of creating records twice.

CSV: a header row with the docs/monitoring.md field names (``record_id`` optional; ``job_id``,
``scenario``, ``gpu_count``, ``avg_util_pct``, ``max_mem_mib``, ``energy_wh``,
``cost_cny`` default to "", other, 1, 0, 0, 0, "0.00"). Times without a UTC offset are
China Standard Time.

Slurm: ``sacct --allocations --parsable2 --noconvert
--format=JobID,JobName,Account,Start,End,Elapsed,AllocTRES,NodeList,Comment[,ConsumedEnergyRaw,Cluster]``.
A job's label is read from its comment (``YINGDU_WORK_REF=…;YINGDU_ENTERPRISE_USCC=…``,
as ``sbatch --comment`` sets it); without one, a valid USCC as the Slurm account and the
job name as the work reference are used. GPUs come from ``gres/gpu=N`` in AllocTRES.
Slurm does not know GPU UUIDs, so ``gpu_uuid`` is ``slurm:<provider>:<cluster>:<job id>``.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from monitoring.models import Scenario
from monitoring.schemas import FIELD_LABELS, RECORD_FIELDS, valid_uscc

CHINA = timezone(timedelta(hours=8))
NAMESPACE = uuid.UUID("5b0f7f2c-1d0e-4c55-9f55-6a1c0de2a8b1")
CSV_DEFAULTS: dict[str, Any] = {
    "job_id": "",
    "scenario": "other",
    "gpu_count": 1,
    "avg_util_pct": 0,
    "max_mem_mib": 0,
    "energy_wh": 0,
    "cost_cny": "0.00",
}
INTEGER_FIELDS = {"gpu_count", "max_mem_mib"}
NUMBER_FIELDS = {"gpu_seconds", "avg_util_pct", "energy_wh"}
_TRES_GPU = re.compile(r"gres/gpu(?::([\w.-]+))?=(\d+)")
_LABEL = re.compile(r"(YINGDU_[A-Z_]+|work_ref|enterprise_uscc|scenario|job_id)\s*=\s*([^;,\s]+)")
LABEL_NAMES = {
    "YINGDU_WORK_REF": "work_ref",
    "YINGDU_ENTERPRISE_USCC": "enterprise_uscc",
    "YINGDU_SCENARIO": "scenario",
    "YINGDU_JOB_ID": "job_id",
}


def detect_format(text: str) -> str:
    first = text.lstrip().split("\n", 1)[0]
    return "sacct" if "|" in first and "JobID" in first else "csv"


def _number(value: str, integer: bool) -> Any:
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    if integer or number == number.to_integral_value():
        return int(number) if number == number.to_integral_value() else text
    return float(number)


def _moment(value: str) -> str:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.isoformat()


def _derived_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Upload:
    """The records of one file, each with the file line it came from (1 is the first line)."""

    source: str  # "csv" | "sacct"
    records: list[dict[str, Any]]
    lines: list[int]


def read_upload(
    text: str, *, provider_id: int, fmt: str = "auto", defaults: dict[str, Any] | None = None
) -> Upload:
    """Records and their line numbers from CSV or ``sacct`` text; ``ValueError`` for an unknown format."""
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt == "sacct":
        rows = list(_sacct_rows(text, provider_id=provider_id, **(defaults or {})))
    elif fmt == "csv":
        rows = list(_csv_rows(text, provider_id=provider_id))
    else:
        raise ValueError(fmt)
    return Upload(source=fmt, records=[r for _line, r in rows], lines=[line for line, _r in rows])


# A header may name a column by its field name (``scenario``), its Chinese label (``应用场景``) or
# both as the template writes them (``应用场景(scenario)``); a scenario by its value or its label.
_HEADER_ALIASES = {label.split("(", 1)[0].strip().lower(): name for name, label in FIELD_LABELS.items()}
SCENARIO_BY_LABEL = {str(label): value for value, label in Scenario.choices}


def column_name(header: str) -> str:
    """The field a CSV header names: ``应用场景(scenario)``, ``应用场景`` and ``scenario`` all read ``scenario``."""
    text = (header or "").strip().replace("（", "(").replace("）", ")").lower()
    match = re.fullmatch(r"[^()]*\(([a-z_]+)\)", text)
    if match:
        return match.group(1)
    return _HEADER_ALIASES.get(text, text)


def parse_csv(text: str, *, provider_id: int) -> list[dict[str, Any]]:
    """Records from a CSV with docs/monitoring.md column names."""
    return [record for _line, record in _csv_rows(text, provider_id=provider_id)]


def _csv_rows(text: str, *, provider_id: int) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    physical = text.split("\n")
    if reader.fieldnames is None:
        return
    start = reader.line_num + 1  # the line after the header
    for row in reader:
        # line_num counts the lines read so far: a quoted field may span several lines and blank
        # lines are skipped, so a row begins on the first non-blank line after the previous row.
        end = reader.line_num
        while start < end and not physical[start - 1].strip():
            start += 1
        line, start = start, end + 1
        clean = {column_name(k): (v or "").strip() for k, v in row.items() if k}
        if clean.get("scenario") in SCENARIO_BY_LABEL:
            clean["scenario"] = SCENARIO_BY_LABEL[clean["scenario"]]
        record: dict[str, Any] = {}
        for name in RECORD_FIELDS:
            value = clean.get(name, "")
            if value == "" and name in CSV_DEFAULTS:
                record[name] = CSV_DEFAULTS[name]
            elif name in INTEGER_FIELDS or name in NUMBER_FIELDS:
                record[name] = _number(value, name in INTEGER_FIELDS) if value else None
            elif name in ("started_at", "ended_at"):
                record[name] = _moment(value)
            else:
                record[name] = value
        if not record["record_id"]:
            record["record_id"] = _derived_id("csv", provider_id, *(record[k] for k in RECORD_FIELDS[1:]))
        if clean.get("signature"):
            record["signature"] = clean["signature"]
        yield line, record


def _elapsed_seconds(text: str) -> int | None:
    """Slurm's ``[D-][HH:]MM:SS`` elapsed time in seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _gpus(tres: str) -> tuple[int, str]:
    total: int | None = None
    typed = 0
    model = ""
    for kind, count in _TRES_GPU.findall(tres):
        if kind:
            typed += int(count)
            model = model or kind
        else:
            total = int(count)
    return (total if total is not None else typed), model


def parse_sacct(
    text: str,
    *,
    provider_id: int,
    node_id: str = "",
    gpu_model: str = "",
    enterprise_uscc: str = "",
    work_ref: str = "",
    scenario: str = "other",
    price_per_gpu_hour: str = "0.00",
) -> list[dict[str, Any]]:
    """Records from ``sacct --parsable2`` output: one per finished job with GPUs (steps are skipped)."""
    return [
        record
        for _line, record in _sacct_rows(
            text,
            provider_id=provider_id,
            node_id=node_id,
            gpu_model=gpu_model,
            enterprise_uscc=enterprise_uscc,
            work_ref=work_ref,
            scenario=scenario,
            price_per_gpu_hour=price_per_gpu_hour,
        )
    ]


def _sacct_rows(
    text: str,
    *,
    provider_id: int,
    node_id: str = "",
    gpu_model: str = "",
    enterprise_uscc: str = "",
    work_ref: str = "",
    scenario: str = "other",
    price_per_gpu_hour: str = "0.00",
) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        return
    header = [h.strip() for h in lines[0][1].split("|")]
    price = Decimal(price_per_gpu_hour)
    for number, line in lines[1:]:
        row = dict(zip(header, line.split("|"), strict=False))
        job = row.get("JobID", "").strip()
        if not job or "." in job:
            continue  # job steps repeat their job's allocation
        count, tres_model = _gpus(row.get("AllocTRES", ""))
        if count == 0 or row.get("End", "").strip() in ("", "Unknown", "None"):
            continue
        labels = {LABEL_NAMES.get(k, k): v for k, v in _LABEL.findall(row.get("Comment", "") or "")}
        account = row.get("Account", "").strip().upper()
        elapsed = _elapsed_seconds(row.get("Elapsed", ""))
        gpu_seconds = elapsed * count if elapsed is not None else row.get("Elapsed", "")
        energy_j = row.get("ConsumedEnergyRaw", "").strip()
        cluster = row.get("Cluster", "").strip() or "cluster"
        record = {
            "record_id": _derived_id("sacct", provider_id, cluster, job, row.get("Start", "")),
            "node_id": node_id or (row.get("NodeList", "").strip().split(",")[0]),
            "enterprise_uscc": labels.get("enterprise_uscc")
            or (account if valid_uscc(account) else enterprise_uscc),
            "work_ref": labels.get("work_ref") or work_ref or row.get("JobName", "").strip(),
            "job_id": job,
            "scenario": labels.get("scenario") or scenario,
            "gpu_model": tres_model or gpu_model,
            "gpu_uuid": f"slurm:{provider_id}:{cluster}:{job}",
            "gpu_count": count,
            "started_at": _moment(row.get("Start", "")),
            "ended_at": _moment(row.get("End", "")),
            "gpu_seconds": gpu_seconds,
            "avg_util_pct": 0,
            "max_mem_mib": 0,
            "energy_wh": round(int(energy_j) / 3600, 3) if energy_j.isdigit() else 0,
            "cost_cny": str(
                (Decimal(gpu_seconds if isinstance(gpu_seconds, int) else 0) / 3600 * price).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
            ),
        }
        yield number, record
