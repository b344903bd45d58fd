"""Table tests a policy officer can review: ``policy/tests/cases/*.yaml`` (name, date, input, expected)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.lib.workdays import WorkdayCalendar
from policy import calendar as deadlines
from policy.loader import params_at
from policy.rules import calculate_subsidy

CASES = Path(__file__).parent / "cases"


def load(name: str) -> list[Any]:
    cases = yaml.safe_load((CASES / name).read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", load("subsidy.yaml"))
def test_subsidy_case(case: dict[str, Any]) -> None:
    given = case["input"]
    result = calculate_subsidy(
        total_compute_cost=Decimal(str(given["total_compute_cost"])),
        work_minutes=given["work_minutes"],
        overseas=given["overseas"],
        granted_this_year=Decimal(str(given["granted_this_year"])),
        params=params_at(case["date"]),
    )
    data = result.as_dict()
    for key, value in case["expected"].items():
        assert data[key] == str(value), key


@pytest.mark.parametrize("case", load("deadlines.yaml"))
def test_deadline_case(case: dict[str, Any]) -> None:
    params = params_at(case["date"])
    given = dict(case["input"])
    if "pauses" in given:
        given["pauses"] = [tuple(pause) for pause in given["pauses"]]
    rule = getattr(deadlines, case["rule"])
    # The built-in calendar: these cases need no loaded year, so no database either.
    assert rule(**given, params=params, calendar=WorkdayCalendar()) == case["expected"]["deadline"]


def test_every_case_has_a_name_a_date_an_input_and_an_expectation() -> None:
    for path in CASES.glob("*.yaml"):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            assert {"name", "date", "input", "expected"} <= set(case), (path.name, case)
            assert isinstance(case["date"], dt.date)
