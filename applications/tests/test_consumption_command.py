"""``yingdu consumption check``: per file the format, counts and rejected lines; overall quantities, money
and the subsidy base (docs/usage-formats.md)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import SimpleTestCase

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "usage"


def run(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    code = 0
    try:
        call_command("consumption", "check", *args, stdout=out)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return out.getvalue(), code


class ConsumptionCheckCommandTests(SimpleTestCase):
    def test_it_prints_each_files_format_and_rejected_lines_and_the_base_as_json(self) -> None:
        files = [
            str(FIXTURES / n) for n in ("volcengine_ListBillDetail.json", "tencent_DescribeBillDetail.json")
        ]
        text, code = run(*files, "--json")
        doc = json.loads(text)
        assert code == 1  # a line was rejected
        assert [(f["format"], f["lines"], len(f["rejected"])) for f in doc["files"]] == [
            ("volcengine", 2, 1),
            ("tencent", 1, 1),
        ]
        assert doc["quantities"] == {"instance_hour": "11", "token": "2450000"}
        assert doc["money"] == {
            "list": "376.75",
            "discount": "34.00",
            "coupon": "11.00",
            "voucher": "0.00",
            "payable": "337.75",
            "paid": "331.75",
        }
        assert doc["subsidy_base"]["base"] == "331.75"

    def test_it_prints_a_chinese_report_and_exits_0_when_every_line_is_read(self) -> None:
        content = (FIXTURES / "ark_tasks.json").read_text(encoding="utf-8")
        good = json.loads(content)
        good["items"] = [item for item in good["items"] if "usage" in item]
        path = Path(self.enterContext(tempfile.TemporaryDirectory())) / "ark.json"
        path.write_text(json.dumps(good), encoding="utf-8")
        text, code = run(str(path))
        assert code == 0
        assert "ark.json：格式 ark，记录 3 条，用量行 3 行，未计入 0 行" in text
        assert "token：735000" in text

    def test_a_missing_file_is_a_clear_error(self) -> None:
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="无法读取文件"):
            run(str(FIXTURES / "no-such-file.csv"))
