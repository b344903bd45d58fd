"""``yingdu calendar add-workdays|load|show``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ledger.models import AuditEvent
from policy.models import HolidayYear
from policy.tests.golden import golden_path, golden_rows
from testing.fixtures import make_user
from yingdu.cli import main as yingdu

pytestmark = pytest.mark.django_db

FILE_2027 = """\
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知
holidays: [2027-01-01, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12]
workdays: [2027-02-06, 2027-02-20]
"""


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("calendar", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_add_workdays_prints_the_deadline() -> None:
    assert run("add-workdays", "2026-09-20", "30").strip() == "2026-11-06"


def test_every_golden_workday_case_through_the_cli_batch_mode(tmp_path: Path) -> None:
    rows = golden_rows("workday_cases.csv")
    source = tmp_path / "in.csv"
    source.write_text(
        "from,workdays\n" + "".join(f"{r['from']},{r['workdays']}\n" for r in rows), encoding="utf-8"
    )
    out = list(csv.DictReader(io.StringIO(run("add-workdays", "--batch", str(source)))))
    assert out == rows
    # The golden file itself (with its deadline column) reproduces too.
    assert (
        list(
            csv.DictReader(io.StringIO(run("add-workdays", "--batch", str(golden_path("workday_cases.csv")))))
        )
        == rows
    )


def test_it_exits_with_status_2_naming_a_year_before_the_first_known_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        yingdu(["calendar", "add-workdays", "2003-03-03", "5"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "2003年节假日安排尚未载入" in captured.err
    assert captured.out == ""


def test_it_marks_a_2027_date_provisional_until_a_2027_file_is_loaded(tmp_path: Path) -> None:
    out = run("add-workdays", "2026-12-20", "30").strip()
    assert out.startswith("2027-02-01 暂定")
    assert "2027年国务院节假日安排尚未公布" in out
    path = tmp_path / "2027.yaml"
    path.write_text(FILE_2027, encoding="utf-8")
    admin = make_user("sys", "sysadmin")
    assert "已载入 2027 年节假日安排" in run("load", str(path), "--user", "sys")
    assert run("add-workdays", "2026-12-20", "30").strip() == "2027-02-01"
    assert HolidayYear.objects.get(year=2027).loaded_by == admin
    assert AuditEvent.objects.filter(action="calendar.load", actor=admin).count() == 1


def test_batch_rows_in_an_unknown_year_get_an_error_and_the_others_are_computed(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "from,workdays\n2026-09-20,30\n2003-01-06,1\nsoon,1\n2026-10-01,1\n2027-01-04,1\n", encoding="utf-8"
    )
    rows = list(csv.DictReader(io.StringIO(run("add-workdays", "--batch", str(source)))))
    assert [r["deadline"] for r in rows] == ["2026-11-06", "", "", "2026-10-08", "2027-01-05"]
    assert rows[1]["error"] == "2003年节假日安排尚未载入"
    assert [bool(r["provisional"]) for r in rows] == [False, False, False, False, True]
    assert "不是有效日期" in rows[2]["error"]


def test_load_refuses_an_invalid_file_naming_the_bad_date(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(FILE_2027.replace("2027-02-20]", "2027-02-09]"), encoding="utf-8")
    with pytest.raises(CommandError, match="2027-02-09"):
        run("load", str(path))
    assert not HolidayYear.objects.exists()


def test_load_refuses_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("year: [2027\n", encoding="utf-8")
    with pytest.raises(CommandError, match="不是有效的 YAML"):
        run("load", str(path))


def test_show_prints_a_loaded_year_in_the_file_format(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text(FILE_2027, encoding="utf-8")
    run("load", str(path))
    text = run("show", "2027")
    assert "year: 2027" in text
    assert "holidays: [2027-01-01, 2027-02-08" in text
    assert "workdays: [2027-02-06, 2027-02-20]" in text
    assert "管理员载入" in text
    assert "grade: official" in text
    assert "source: 国务院办公厅关于2027年部分节假日安排的通知" in text


def test_it_shows_the_grade_of_a_built_in_a_provisional_and_an_unknown_year() -> None:
    built_in = run("show", "2026")
    assert "2026-10-01" in built_in
    assert "grade: official" in built_in
    assert "source: 国务院办公厅节假日安排（随平台内置）" in built_in
    provisional = run("show", "2028")
    assert "grade: 暂定" in provisional
    assert "2028年国务院节假日安排尚未公布" in provisional
    # 2028: 除夕 25 January, 春节 26–28 January; no make-up working days.
    assert "holidays: [2028-01-01, 2028-01-25, 2028-01-26, 2028-01-27, 2028-01-28," in provisional
    assert "workdays: []" in provisional
    with pytest.raises(CommandError, match="2003年节假日安排尚未载入") as info:
        run("show", "2003")
    assert info.value.returncode == 2
