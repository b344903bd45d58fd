"""What a person must never read on a page, in an e-mail or in an export: internal codes
(``over_claim``, ``application.pdf_download``), English UI words, ISO timestamps, amounts
without the platform's one money format (``9750.00``, ``¥100000.00``), negative day counts
(``剩余 -96 个工作日``), UTC times, internal ids (``31 @ 675: 1``), and a notice that asks for
action without its deadline date.

Used by the walk over every demo persona's pages (``test_accessibility.py``); code samples
(``<code>``, ``<pre>``), addresses and paths are left out before the text is checked.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from decimal import Decimal

SNAKE_CODE = re.compile(r"(?<![\w./@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w./@-])")
EVENT_CODE = re.compile(
    r"\b(?:application|review|audit|enterprise|provider|usage|ledger|accounts|auth|system|report|calendar)"
    r"\.[a-z_]+(?:\.[a-z_]+)*\b"
)
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# Words of an English interface, and Python's own values leaking through a template.
ENGLISH = re.compile(
    r"\b(?:Submit|Cancel|Save|Delete|Edit|Search|Filter|Next|Previous|Back|Login|Logout|Sign in|"
    r"Yes|No|None|True|False|Page|Status|Error|Warning|Details|Download|Upload|Approve|Reject|"
    r"pending|verified|rejected|draft|submitted|approved|paid|withdrawn|blacklisted|"
    r"high|medium|low|mad|median|peers|threshold)\b"
)
BARE_AMOUNT = re.compile(r"(?<![\d,.:/\w-])\d{4,}\.\d{2}(?![\d%])|¥")
# A count of days read as a negative number ("剩余 -96 个工作日") instead of "已逾期 96 个工作日".
NEGATIVE_DAYS = re.compile(r"(?:剩余|还剩|还有)\s*-\d+|(?<![\w.:/-])-\d+\s*个?(?:工作日|天)")
# A moment in UTC beside Beijing times: people read Beijing time only.
UTC_TIME = re.compile(r"\bUTC\b|\bGMT\b|\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z\b|[+-]00:?00\b)")
# An object's internal identity ("31 @ 675: 1", a Python repr) instead of its name.
INTERNAL_ID = re.compile(
    r"(?<![\w.])\d+\s@\s\d+(?::\s*\d+)?|<[A-Z]\w+(?: object)? at 0x[0-9a-f]+>|<[A-Z]\w+: [^>]*>"
)
# A notice asking the enterprise to act by a date: its subject, and the date its text must give.
NOTICE_WITH_DEADLINE = re.compile(r"需补充材料|核查数据告知|被追回")
CHINESE_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
# Addresses and paths name things for machines; they are not what is checked.
# An API token's prefix (``ydp_kekk7914``) names a token as the provider's token list shows it.
ADDRESS = re.compile(r"https?://\S+|(?<!\w)/[\w./?=&%-]*|[\w.+-]+@[\w.-]+|\bydp_[A-Za-z0-9]+")


def problems_in(text: str, where: str) -> list[str]:
    """One line for each offending word of ``text`` (first few of each kind)."""
    text = ADDRESS.sub(" ", text)
    found = []
    for name, pattern in (
        ("internal code", SNAKE_CODE),
        ("event code", EVENT_CODE),
        ("ISO timestamp", ISO_MOMENT),
        ("English word", ENGLISH),
        ("amount without 千分位", BARE_AMOUNT),
        ("negative day count", NEGATIVE_DAYS),
        ("UTC time", UTC_TIME),
        ("internal id", INTERNAL_ID),
    ):
        hits = sorted({m.group(0) for m in pattern.finditer(text)})
        if hits:
            found.append(f"{where}: {name}: {', '.join(hits[:5])}")
    return found


def workbook_problems(content: bytes, where: str) -> list[str]:
    """The text cells of every sheet, and amount cells (two decimals) without ``#,##0.00``."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content))
    found: list[str] = []
    for sheet in workbook.worksheets:
        texts: list[str] = [sheet.title]
        money_columns: set[int] = set()
        for row in sheet.iter_rows():
            money_in_row: set[int] = set()
            for cell in row:
                value = cell.value
                if isinstance(value, str):
                    texts.append(value)
                    # A header naming the unit 元 makes its column money; a row label in the first
                    # column (年度预算（元）) makes the rest of its row money.
                    if "（元）" in value:
                        if cell.column == 1 and cell.row > 1:
                            money_in_row.add(2)
                        else:
                            money_columns.add(int(cell.column))
                elif (
                    isinstance(value, float | int | Decimal)
                    and not isinstance(value, bool)
                    and (cell.column in money_columns or cell.column in money_in_row)
                    and cell.number_format != "#,##0.00"
                ):
                    found.append(f"{where} {sheet.title}!{cell.coordinate}: amount in {cell.number_format}")
        found.extend(problems_in("\n".join(texts), f"{where} {sheet.title}"))
    return found[:20]


def csv_problems(content: bytes, where: str) -> list[str]:
    return problems_in(content.decode("utf-8-sig", errors="replace"), where)


def mail_problems(messages: Iterable[tuple[str, str]]) -> list[str]:
    found: list[str] = []
    for subject, body in messages:
        found.extend(problems_in(f"{subject}\n{body}", f"mail 《{subject}》"))
        found.extend(deadline_problems(subject, body))
    return found


def deadline_problems(subject: str, body: str) -> list[str]:
    """A notice that asks the enterprise to supplement, object or repay must give the last day as a date."""
    if NOTICE_WITH_DEADLINE.search(subject) and not CHINESE_DATE.search(body):
        return [f"mail 《{subject}》: notice without a deadline date"]
    return []
