"""Dated policy parameters (policy/parameters/*.yaml) and params_at."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings

from policy.loader import (
    DEFAULT_DIRECTORY,
    FIELDS,
    ParameterFileError,
    PolicyNotInForceError,
    clear_cache,
    load_parameters,
    params_at,
    read_parameter,
)
from policy.rules import calculate_subsidy

D = dt.date


def add_version(directory: Path, name: str, day: str, value: str) -> None:
    """Append a dated value to one parameter file, as a policy officer would."""
    path = directory / f"{name}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"  {day}:\n    value: {value}\n", encoding="utf-8")


def test_the_2026_02_05_version_holds_every_number_of_the_spec_table() -> None:
    params = params_at(D(2026, 2, 5))
    assert params.version == "2026-02-05"
    assert params.effective_from == D(2026, 2, 5)
    assert params.domestic_rate == Decimal("0.30")
    assert params.domestic_per_minute_cap == Decimal("200")
    assert params.domestic_per_work_cap == Decimal("20000")
    assert params.overseas_rate == Decimal("0.39")
    assert params.overseas_per_minute_cap == Decimal("260")
    assert params.overseas_per_work_cap == Decimal("26000")
    assert params.annual_cap == Decimal("100000")
    assert params.apply_workdays_after_launch == 30
    assert params.review_workdays == 10
    assert params.payment_workdays_after_approval == 20
    assert params.total_cycle_workdays == 30
    assert params.objection_workdays == 5
    assert params.compute_minutes_must_equal_work_minutes is True


def test_audit_parameters_are_exposed_by_name() -> None:
    params = params_at(D(2026, 6, 1))
    assert params.extra["audit.tolerance"] == Decimal("0.05")
    assert params.extra["audit.sample_rate"] == Decimal("0.10")
    assert params.extra["audit.sample_min_count"] == 3
    assert params.get("audit.tolerance") == params.audit_tolerance == Decimal("0.05")
    assert params.audit_sample_rate == Decimal("0.1")
    assert params.audit_sample_min_count == 3
    assert params.get("domestic.rate") == params.domestic_rate


def test_every_parameter_file_documents_unit_and_source_clause() -> None:
    for path in DEFAULT_DIRECTORY.glob("*.yaml"):
        parameter = read_parameter(path)
        assert parameter.description and parameter.unit and parameter.reference, path.name
    references = {
        name: read_parameter(DEFAULT_DIRECTORY / f"{name}.yaml").reference for name, _k in FIELDS.values()
    }
    assert "三（一）" in references["domestic.rate"]
    assert "三（三）" in references["enterprise.annual_cap"]
    assert "四（四）1" in references["deadline.review_workdays"]


def test_no_policy_number_is_a_literal_in_the_rule_code() -> None:
    source = (Path(__file__).parents[1] / "rules.py").read_text(encoding="utf-8")
    code = "\n".join(
        line.split("#")[0] for line in source.splitlines() if not line.strip().startswith(('"', "'"))
    )
    for number in ("0.30", "0.3", "0.39", "200", "260", "20000", "26000", "100000", "20_000", "100_000"):
        assert not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", code), number


def test_params_are_an_immutable_snapshot() -> None:
    params = params_at(D(2026, 6, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.annual_cap = Decimal("1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.extra["audit.tolerance"] = Decimal("1")  # type: ignore[index]


def test_a_date_before_the_first_version_is_a_clear_error() -> None:
    with pytest.raises(PolicyNotInForceError) as info:
        params_at(D(2026, 2, 4))
    assert "2026-02-04" in str(info.value)
    assert "2026-02-05" in str(info.value)


def test_a_datetime_is_refused() -> None:
    with pytest.raises(TypeError):
        params_at(dt.datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001


def test_a_later_version_applies_from_its_date_and_earlier_submissions_keep_the_old_numbers(
    parameters_copy: Path,
) -> None:
    add_version(parameters_copy, "domestic.rate", "2026-07-01", "0.35")
    add_version(parameters_copy, "domestic.per_work_cap", "2026-07-01", "25000")
    before = params_at(D(2026, 6, 30), directory=parameters_copy)
    after = params_at(D(2026, 7, 1), directory=parameters_copy)
    assert (before.version, before.domestic_rate, before.domestic_per_work_cap) == (
        "2026-02-05",
        Decimal("0.3"),
        Decimal("20000"),
    )
    assert (after.version, after.domestic_rate, after.domestic_per_work_cap) == (
        "2026-07-01",
        Decimal("0.35"),
        Decimal("25000"),
    )
    assert after.annual_cap == before.annual_cap  # unchanged parameters carry over

    def amount(day: dt.date) -> tuple[str, str]:
        result = calculate_subsidy(
            total_compute_cost=Decimal("100000"),
            work_minutes=200,
            overseas=False,
            granted_this_year=Decimal("0"),
            params=params_at(day, directory=parameters_copy),
        )
        return str(result.amount), result.policy_version

    assert amount(D(2026, 6, 30)) == ("20000.00", "2026-02-05")
    assert amount(D(2026, 7, 1)) == ("25000.00", "2026-07-01")


def test_the_parameters_directory_can_be_set_in_settings(parameters_copy: Path) -> None:
    add_version(parameters_copy, "enterprise.annual_cap", "2027-01-01", "150000")
    with override_settings(POLICY_PARAMETERS_DIR=str(parameters_copy)):
        assert params_at(D(2027, 1, 1)).annual_cap == Decimal("150000")
        assert params_at(D(2026, 12, 31)).annual_cap == Decimal("100000")
    assert params_at(D(2027, 1, 1)).annual_cap == Decimal("100000")


def test_a_null_value_ends_a_parameter(parameters_copy: Path) -> None:
    add_version(parameters_copy, "overseas.rate", "2028-01-01", "null")
    with pytest.raises(PolicyNotInForceError, match="overseas.rate"):
        params_at(D(2028, 1, 1), directory=parameters_copy)
    add_version(parameters_copy, "audit.tolerance", "2027-01-01", "null")
    clear_cache()  # files are read once per process; this test edits them after the first read
    assert "audit.tolerance" not in params_at(D(2027, 1, 1), directory=parameters_copy).extra


def test_a_missing_required_parameter_file_is_refused(parameters_copy: Path) -> None:
    (parameters_copy / "domestic.rate.yaml").unlink()
    with pytest.raises(ParameterFileError, match="domestic.rate"):
        load_parameters(parameters_copy)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("description: x\nunit: y\nvalues:\n  2026-01-01:\n    value: 1\n", "missing reference"),
        ("description: x\nunit: y\nreference: z\nvalues:\n  someday:\n    value: 1\n", "not a date"),
        (
            "description: x\nunit: y\nreference: z\nvalues:\n  2026-01-01:\n    value: many\n",
            "expected a number",
        ),
        ("description: x\nunit: y\nreference: z\nvalues:\n  2026-01-01:\n    value: -1\n", "non-negative"),
        ("description: x\nunit: y\nreference: z\nvalues: {}\n", "values must map"),
        ("[1, 2]\n", "expected a mapping"),
    ],
)
def test_a_malformed_parameter_file_is_refused_naming_the_file(
    parameters_copy: Path, text: str, message: str
) -> None:
    (parameters_copy / "domestic.rate.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ParameterFileError, match=message) as info:
        load_parameters(parameters_copy)
    assert "domestic.rate.yaml" in str(info.value)


def test_a_working_day_count_must_be_an_integer(parameters_copy: Path) -> None:
    add_version(parameters_copy, "deadline.review_workdays", "2027-01-01", "10.5")
    with pytest.raises(ParameterFileError, match="integer"):
        load_parameters(parameters_copy)
