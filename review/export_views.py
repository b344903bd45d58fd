"""The 台账 export: the year's applications with their review and payment columns, as XLSX."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from applications.models import Application
from applications.states import Status
from ledger.actions import record_event
from review.access import staff_user
from review.clock import local_date
from review.forms import LedgerExportForm

LEDGER_HEADERS = [
    gettext_lazy("申报编号"),
    gettext_lazy("企业名称"),
    gettext_lazy("统一社会信用代码"),
    gettext_lazy("短剧作品名称"),
    gettext_lazy("作品备案证明编号"),
    gettext_lazy("是否出海"),
    gettext_lazy("状态"),
    gettext_lazy("提交日期"),
    gettext_lazy("受理日期"),
    gettext_lazy("申请金额（元）"),
    gettext_lazy("核定补贴金额（元）"),
    gettext_lazy("审批日期"),
    gettext_lazy("兑现日期"),
    gettext_lazy("兑现金额（元）"),
    gettext_lazy("银行流水号"),
    gettext_lazy("追回金额（元）"),
    gettext_lazy("已缴回金额（元）"),
    gettext_lazy("核销金额（元）"),
    gettext_lazy("追回未结（元）"),
]
# The amount columns (by position in LEDGER_HEADERS) summed in the totals row (合计).
TOTALLED = frozenset({9, 10, 13, 15, 16, 17, 18})


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The period the 台账 covers when none is given: this year so far, not before the policy began."""
    from policy.loader import load_parameters

    first = load_parameters().version_dates[0]
    return max(dt.date(today.year, 1, 1), first), today


@login_required
@require_GET
def ledger_export(request: HttpRequest) -> HttpResponse:
    """台账: the applications submitted in a period with their amounts and dates, as XLSX.

    Text cells go through ``core.xlsx`` (formula-injection safe, docs/security.md); the export
    is audited (#20).
    """
    from openpyxl import Workbook

    from core.xlsx import write_sheet, xlsx_response

    user = staff_user(request)
    start_default, end_default = default_period(timezone.localdate())
    form = LedgerExportForm(
        {
            "date_from": request.GET.get("from") or start_default,
            "date_to": request.GET.get("to") or end_default,
        }
    )
    if not form.is_valid():
        return render(request, "review/refused.html", {"refusal": form.errors, "status": 400}, status=400)
    start: dt.date = form.cleaned_data["date_from"]
    end: dt.date = form.cleaned_data["date_to"]
    tz = timezone.get_current_timezone()
    qs = (
        Application.objects.filter(
            submitted_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz),
            submitted_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
        )
        .exclude(status=Status.DRAFT)
        .select_related("payment")
        .order_by("submitted_at", "id")
    )

    def lines() -> Any:
        for app in qs.iterator(chunk_size=2000):
            pay = getattr(app, "payment", None)
            yield [
                app.reference,
                app.enterprise_name,
                app.uscc,
                app.work_title,
                app.filing_number,
                _("是") if app.overseas else _("否"),
                app.get_status_display(),
                local_date(app.submitted_at),
                app.received_date,
                app.requested_amount,
                app.granted_amount,
                local_date(app.approved_at),
                pay.date if pay else None,
                pay.amount if pay else None,
                pay.bank_reference if pay else "",
                app.clawed_back_amount or None,
                app.repaid_amount or None,
                app.written_off_amount or None,
                (app.clawed_back_amount - app.repaid_amount - app.written_off_amount) or None,
            ]

    wb = Workbook(write_only=True)  # streamed: rows go from the cursor to the file
    ws = wb.create_sheet(_("台账"))
    headers = [str(h) for h in LEDGER_HEADERS]
    count = write_sheet(ws, headers, _with_totals(headers, lines()))
    count -= 1  # the totals row is no application
    record_event(
        "review.ledger_export",
        actor=user,
        after={"from": start.isoformat(), "to": end.isoformat(), "rows": count},
        request=request,
    )
    return xlsx_response(wb, f"ledger-{start:%Y%m%d}-{end:%Y%m%d}.xlsx")


def _with_totals(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """The rows as they come, then 合计: the sum of each amount column; the first cell counts the
    applications. Summed while streaming, so no row is kept."""
    sums = {index: Decimal("0") for index in range(len(headers)) if index in TOTALLED}
    count = 0
    for row in rows:
        count += 1
        for index in sums:
            if row[index] is not None:
                sums[index] += row[index]
        yield row
    totals: list[Any] = [None] * len(headers)
    totals[0] = str(_("合计（%(n)d 件）") % {"n": count})
    for index, total in sums.items():
        totals[index] = total
    yield totals
