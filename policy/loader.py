"""Dated policy parameters (政策参数), loaded from ``policy/parameters/*.yaml``.

One YAML file per parameter, named after it (``domestic.rate.yaml``), in the OpenFisca
style::

    description: 境内发行作品的算力补助比例（占总算力成本）
    unit: /1
    reference: 中国影都AI算力补助实施办法 三（一）
    values:
      2026-02-05:
        value: 0.30
      2027-01-01:
        value: null        # null ends the parameter

The version of the policy in force on a day is the latest effective date, over all files, on or
before that day; :func:`params_at` returns an immutable snapshot carrying that version, so a
computed amount can store it and be recomputed and explained later. The version in force on the
**submission date** governs an application (docs/subsidy.md).

Files are read and validated once per process and directory. Tests point the loader at another
directory with the ``directory`` argument or the ``POLICY_PARAMETERS_DIR`` setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from django.utils.translation import gettext as _

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "parameters"

Kind = Literal["decimal", "int", "bool"]

# PolicyParams field -> (parameter name, kind). Every one must have a value on every version date.
FIELDS: dict[str, tuple[str, Kind]] = {
    "domestic_rate": ("domestic.rate", "decimal"),
    "domestic_per_minute_cap": ("domestic.per_minute_cap", "decimal"),
    "domestic_per_work_cap": ("domestic.per_work_cap", "decimal"),
    "overseas_rate": ("overseas.rate", "decimal"),
    "overseas_per_minute_cap": ("overseas.per_minute_cap", "decimal"),
    "overseas_per_work_cap": ("overseas.per_work_cap", "decimal"),
    "annual_cap": ("enterprise.annual_cap", "decimal"),
    "apply_workdays_after_launch": ("deadline.apply_workdays_after_launch", "int"),
    "review_workdays": ("deadline.review_workdays", "int"),
    "payment_workdays_after_approval": ("deadline.payment_workdays_after_approval", "int"),
    "total_cycle_workdays": ("deadline.total_cycle_workdays", "int"),
    "objection_workdays": ("deadline.objection_workdays", "int"),
    "compute_minutes_must_equal_work_minutes": ("form.compute_minutes_must_equal_work_minutes", "bool"),
}
FIELD_BY_PARAMETER = {name: attr for attr, (name, _kind) in FIELDS.items()}
REQUIRED_KEYS = ("description", "unit", "reference", "values")


class ParameterFileError(ValueError):
    """A parameter file is malformed; raised at load time, naming the file."""


class PolicyNotInForceError(LookupError):
    """No policy version (or a required parameter) is in force on the requested day."""

    def __init__(self, message: str, *, day: dt.date) -> None:
        super().__init__(message)
        self.day = day


@dataclass(frozen=True)
class Parameter:
    """One policy parameter: its documentation and its dated values (``None`` ends it)."""

    name: str
    description: str
    unit: str
    reference: str
    values: tuple[tuple[dt.date, Any], ...]

    def value_at(self, day: dt.date) -> tuple[dt.date, Any] | None:
        """``(effective date, value)`` in force on ``day``; ``None`` before the first date."""
        found = None
        for start, value in self.values:
            if start > day:
                break
            found = (start, value)
        return found


@dataclass(frozen=True)
class PolicyParams:
    """The policy parameters in force on one day: an immutable snapshot.

    ``version`` is the ISO date of the policy version (the latest effective date on or before
    the day asked for). Parameters without a named field (for example ``audit.tolerance``) are
    in ``extra`` by their dotted name; :meth:`get` reads any parameter by that name.
    """

    version: str
    effective_from: dt.date
    domestic_rate: Decimal
    domestic_per_minute_cap: Decimal
    domestic_per_work_cap: Decimal
    overseas_rate: Decimal
    overseas_per_minute_cap: Decimal
    overseas_per_work_cap: Decimal
    annual_cap: Decimal
    apply_workdays_after_launch: int
    review_workdays: int
    payment_workdays_after_approval: int
    total_cycle_workdays: int
    objection_workdays: int
    compute_minutes_must_equal_work_minutes: bool
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def get(self, name: str) -> Any:
        """Any parameter by dotted name (``"domestic.rate"``, ``"audit.tolerance"``)."""
        attr = FIELD_BY_PARAMETER.get(name)
        if attr is not None:
            return getattr(self, attr)
        return self.extra[name]

    def rate(self, *, overseas: bool) -> Decimal:
        return self.overseas_rate if overseas else self.domestic_rate

    def per_minute_cap(self, *, overseas: bool) -> Decimal:
        return self.overseas_per_minute_cap if overseas else self.domestic_per_minute_cap

    def per_work_cap(self, *, overseas: bool) -> Decimal:
        return self.overseas_per_work_cap if overseas else self.domestic_per_work_cap

    @property
    def audit_tolerance(self) -> Decimal:
        return Decimal(self.extra["audit.tolerance"])

    @property
    def audit_sample_rate(self) -> Decimal:
        return Decimal(self.extra["audit.sample_rate"])

    @property
    def audit_sample_min_count(self) -> int:
        return int(self.extra["audit.sample_min_count"])

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: every parameter by dotted name, decimals as strings."""
        out: dict[str, Any] = {"version": self.version, "effective_from": self.effective_from.isoformat()}
        for attr, (name, _kind) in FIELDS.items():
            out[name] = _jsonable(getattr(self, attr))
        for name, value in sorted(self.extra.items()):
            out[name] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _convert(value: Any, kind: Kind | None, where: str) -> Any:
    """YAML scalar -> typed value. Floats become the Decimal of their shortest repr (0.3, not 0.29999…)."""
    if value is None:
        return None
    if kind == "bool" or (kind is None and isinstance(value, bool)):
        if not isinstance(value, bool):
            raise ParameterFileError(f"{where}: expected true/false, got {value!r}")
        return value
    if kind == "int" or (kind is None and isinstance(value, int)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterFileError(f"{where}: expected an integer, got {value!r}")
        return value
    if kind == "decimal" or (kind is None and isinstance(value, float)):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ParameterFileError(f"{where}: expected a number, got {value!r}")
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value))
        except InvalidOperation:
            raise ParameterFileError(f"{where}: expected a number, got {value!r}") from None
        if not number.is_finite() or number < 0:
            raise ParameterFileError(f"{where}: expected a finite non-negative number, got {value!r}")
        return number
    return value


def _parse_date(key: Any, where: str) -> dt.date:
    if isinstance(key, dt.date) and not isinstance(key, dt.datetime):
        return key
    try:
        return dt.date.fromisoformat(str(key))
    except ValueError:
        raise ParameterFileError(f"{where}: {key!r} is not a date (YYYY-MM-DD)") from None


def read_parameter(path: Path) -> Parameter:
    """Read and validate one parameter file."""
    name = path.name.removesuffix(".yaml")
    where = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterFileError(f"{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParameterFileError(f"{where}: expected a mapping")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ParameterFileError("{}: missing {}".format(where, ", ".join(missing)))
    raw_values = data["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise ParameterFileError(f"{where}: values must map effective dates to values")
    kind = FIELDS[FIELD_BY_PARAMETER[name]][1] if name in FIELD_BY_PARAMETER else None
    values = []
    for key, entry in raw_values.items():
        start = _parse_date(key, where)
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and "value" not in entry:
            raise ParameterFileError(f"{where}: {start} has no value")
        values.append((start, _convert(value, kind, f"{where} {start}")))
    values.sort(key=lambda item: item[0])
    return Parameter(
        name=name,
        description=str(data["description"]),
        unit=str(data["unit"]),
        reference=str(data["reference"]),
        values=tuple(values),
    )


class ParameterSet:
    """All parameters of one directory, with the dates on which policy versions start."""

    def __init__(self, parameters: Mapping[str, Parameter]) -> None:
        missing = [name for name, _kind in FIELDS.values() if name not in parameters]
        if missing:
            raise ParameterFileError("missing parameter files: {}".format(", ".join(sorted(missing))))
        self.parameters = dict(sorted(parameters.items()))
        self.version_dates = sorted({start for p in self.parameters.values() for start, _v in p.values})

    @classmethod
    def from_directory(cls, directory: Path) -> ParameterSet:
        files = sorted(directory.glob("*.yaml"))
        return cls({path.name.removesuffix(".yaml"): read_parameter(path) for path in files})

    def version_at(self, day: dt.date) -> dt.date:
        started = [start for start in self.version_dates if start <= day]
        if not started:
            raise PolicyNotInForceError(
                _("%(day)s 尚无生效的补贴政策（最早的政策版本自 %(first)s 起施行）")
                % {"day": day.isoformat(), "first": self.version_dates[0].isoformat()},
                day=day,
            )
        return started[-1]

    def params_at(self, day: dt.date) -> PolicyParams:
        if isinstance(day, dt.datetime):
            raise TypeError("params_at takes a date (Asia/Shanghai), not a datetime")
        version = self.version_at(day)
        typed: dict[str, Any] = {}
        for attr, (name, _kind) in FIELDS.items():
            found = self.parameters[name].value_at(day)
            if found is None or found[1] is None:
                raise PolicyNotInForceError(
                    _("%(day)s 政策参数“%(name)s”未生效或已停止执行")
                    % {"day": day.isoformat(), "name": name},
                    day=day,
                )
            typed[attr] = found[1]
        extra = {}
        for name, parameter in self.parameters.items():
            if name in FIELD_BY_PARAMETER:
                continue
            found = parameter.value_at(day)
            if found is not None and found[1] is not None:
                extra[name] = found[1]
        return PolicyParams(
            version=version.isoformat(),
            effective_from=version,
            extra=MappingProxyType(extra),
            **typed,
        )


def configured_directory() -> Path:
    """``settings.POLICY_PARAMETERS_DIR`` when set, else the parameters shipped with the code."""
    from django.conf import settings

    override = getattr(settings, "POLICY_PARAMETERS_DIR", None) if settings.configured else None
    return Path(override) if override else DEFAULT_DIRECTORY


@lru_cache(maxsize=16)
def _load(directory: str) -> ParameterSet:
    return ParameterSet.from_directory(Path(directory))


def load_parameters(directory: Path | str | None = None) -> ParameterSet:
    """The validated parameter set of ``directory`` (default: :func:`configured_directory`), cached."""
    path = Path(directory) if directory is not None else configured_directory()
    return _load(str(path.resolve()))


def params_at(d: dt.date, *, directory: Path | str | None = None) -> PolicyParams:
    """The policy parameters in force on ``d``; :class:`PolicyNotInForceError` before the first version."""
    return load_parameters(directory).params_at(d)


def clear_cache() -> None:
    """Forget loaded parameter files (tests that edit a directory in place)."""
    _load.cache_clear()
