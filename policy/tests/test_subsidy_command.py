"""``yingdu subsidy calc``: single, JSON and batch modes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from policy.tests.golden import golden_path, golden_rows
from yingdu.cli import main as yingdu


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("subsidy", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_calc_json_prints_one_object_with_money_as_strings() -> None:
    data = json.loads(run("calc", "--cost", "50000", "--minutes", "60", "--json"))
    assert data["amount"] == "12000.00"
    assert data["binding"] == "per_minute_cap"
    assert data["by_rate"] == "15000.00"
    assert data["by_minutes"] == "12000.00"
    assert data["by_work"] == "20000.00"
    assert data["annual_left"] == "100000.00"
    assert data["policy_version"] == "2026-02-05"


def test_calc_with_overseas_granted_and_date() -> None:
    data = json.loads(
        run(
            "calc",
            "--cost",
            "50000",
            "--minutes",
            "100",
            "--granted-this-year",
            "90000",
            "--date",
            "2026-06-01",
            "--json",
        )
    )
    assert (data["amount"], data["binding"], data["annual_left"]) == ("10000.00", "annual_cap", "10000.00")
    data = json.loads(run("calc", "--cost", "40000", "--minutes", "80", "--overseas", "--json"))
    assert (data["amount"], data["binding"], data["rate"]) == ("15600.00", "rate", "0.39")


def test_calc_without_json_prints_the_breakdown_in_chinese() -> None:
    text = run("calc", "--cost", "50000", "--minutes", "60")
    assert "按比例计算" in text and "按分钟上限" in text and "单部作品上限" in text and "年度剩余额度" in text
    assert "补助金额 12000.00 元" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cost", "abc", "--minutes", "60"], "不是有效金额"),
        (["--cost", "1.234", "--minutes", "60"], "不是有效金额"),
        (["--cost", "100", "--minutes", "-1"], "不是非负整数"),
        (["--cost", "100", "--minutes", "60", "--date", "2026-01-01"], "尚无生效的补贴政策"),
        (["--cost", "100"], "--minutes"),
    ],
)
def test_calc_refuses_bad_input_with_exit_status_2(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as info:
        run("calc", *args)
    assert info.value.returncode == 2


def test_every_golden_subsidy_case_through_the_cli_batch_mode(tmp_path: Path) -> None:
    rows = golden_rows("subsidy_cases.csv")
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["total_compute_cost", "work_minutes", "overseas", "granted_this_year"])
        for row in rows:
            writer.writerow(
                [row["total_compute_cost"], row["work_minutes"], row["overseas"], row["granted_this_year"]]
            )
    out = list(csv.DictReader(io.StringIO(run("calc", "--batch", str(source)))))
    assert len(out) == len(rows)
    for got, want in zip(out, rows, strict=True):
        assert got == want  # the input columns, then amount and binding


def test_the_golden_file_itself_reproduces_through_the_batch_mode() -> None:
    # Existing amount/binding columns are recomputed, not duplicated.
    out = run("calc", "--batch", str(golden_path("subsidy_cases.csv")))
    assert list(csv.DictReader(io.StringIO(out))) == golden_rows("subsidy_cases.csv")


def test_a_bad_row_gets_an_error_and_the_other_rows_are_still_computed(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "total_compute_cost,work_minutes,overseas,granted_this_year\n"
        "50000,60,no,0\n"
        "lots,60,no,0\n"
        "40000,80,maybe,0\n"
        "40000,80,yes,\n",
        encoding="utf-8",
    )
    err = io.StringIO()
    out = io.StringIO()
    call_command("subsidy", "calc", "--batch", str(source), stdout=out, stderr=err)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["amount"], r["binding"]) for r in rows] == [
        ("12000.00", "per_minute_cap"),
        ("", ""),
        ("", ""),
        ("15600.00", "rate"),
    ]
    assert "不是有效金额" in rows[1]["error"]
    assert "yes 或 no" in rows[2]["error"]
    assert rows[0]["error"] == rows[3]["error"] == ""
    assert "2 行有错误" in err.getvalue()


def test_batch_rows_may_carry_their_own_submission_date(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "total_compute_cost,work_minutes,overseas,granted_this_year,date\n50000,60,no,0,2026-06-01\n50000,60,no,0,2025-01-01\n",
        encoding="utf-8",
    )
    rows = list(csv.DictReader(io.StringIO(run("calc", "--batch", str(source)))))
    assert rows[0]["amount"] == "12000.00"
    assert "尚无生效的补贴政策" in rows[1]["error"]


def test_batch_without_the_required_columns_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("cost,minutes\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="total_compute_cost"):
        run("calc", "--batch", str(source))


def test_params_prints_the_version_in_force(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run("params", "--date", "2026-06-01"))
    assert data["version"] == "2026-02-05"
    assert data["domestic.rate"] == "0.3"
    assert data["audit.sample_min_count"] == 3


def test_the_yingdu_console_command_runs_subsidy_calc(capsys: pytest.CaptureFixture[str]) -> None:
    yingdu(["subsidy", "calc", "--cost", "100000", "--minutes", "120", "--overseas", "--json"])
    assert json.loads(capsys.readouterr().out)["amount"] == "26000.00"
