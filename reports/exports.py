"""The yearly XLSX workbook of the center (docs/reports.md): six sheets built from ``reports.queries``.

Every cell goes through ``core.xlsx`` so text typed by applicants (company names, work titles)
can never become a formula in the reader's spreadsheet program.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from applications.models import Application, outstanding
from applications.states import Status
from core.xlsx import append_row, safe_cell, workbook_bytes, write_sheet
from policy.queries import year_bounds
from reports import common, queries
from reports import compliance as reports_compliance
from reports.ratings import ratings_sheet_rows, ratings_summary

SHEET_APPLICATIONS = gettext_lazy("申请汇总")
SHEET_MONTHLY = gettext_lazy("月度统计")
SHEET_DEADLINES = gettext_lazy("时限达标")
SHEET_PROVIDERS = gettext_lazy("算力提供方")
SHEET_FINDINGS = gettext_lazy("稽查发现")
SHEET_RATINGS = gettext_lazy("好差评")
SHEET_SPEND = gettext_lazy("用量与支出")


def status_labels() -> dict[str, str]:
    return {s.value: str(s.label) for s in Status}


ITERATOR_CHUNK = 2000  # rows fetched at a time (a server-side cursor on PostgreSQL)


def build_workbook(
    year: int, today: dt.date | None = None, *, streamed: bool = True
) -> tuple[bytes, dict[str, int]]:
    """The workbook's bytes and the number of data rows of each sheet (for the audit event).

    Streamed (openpyxl's write-only mode): rows go from the database cursor to the file as they
    come. ``streamed=False`` builds the same workbook in memory, cell by cell.
    """
    today = today or timezone.localdate()
    wb = Workbook(write_only=streamed)
    if streamed:
        first: Any = wb.create_sheet(str(SHEET_APPLICATIONS))
    else:
        first = wb.active
        assert first is not None
        first.title = str(SHEET_APPLICATIONS)
    counts = {
        str(SHEET_APPLICATIONS): _applications_sheet(first, year),
        str(SHEET_MONTHLY): _monthly_sheet(wb.create_sheet(str(SHEET_MONTHLY)), year),
        str(SHEET_DEADLINES): _deadlines_sheet(wb.create_sheet(str(SHEET_DEADLINES)), year, today),
        str(SHEET_PROVIDERS): _providers_sheet(wb.create_sheet(str(SHEET_PROVIDERS)), year),
        str(SHEET_FINDINGS): _findings_sheet(wb.create_sheet(str(SHEET_FINDINGS)), year),
        str(SHEET_RATINGS): write_sheet(
            wb.create_sheet(str(SHEET_RATINGS)),
            [_("类别"), _("项目"), _("数值")],
            ratings_sheet_rows(ratings_summary(year, today)),
            widths=[20, 20, 12],
        ),
        str(SHEET_SPEND): _spend_sheet(wb.create_sheet(str(SHEET_SPEND)), year),
    }
    # The fastest compression: a year's sheets are megabytes of XML, and compressing them at
    # openpyxl's default level took longer than writing them.
    return workbook_bytes(wb, compresslevel=1), counts


# What the applications sheet reads of each application, as plain values (a year holds ten
# thousand rows: building model objects for them cost more than writing the sheet); its moments
# as their policy-local dates (``common.local_date_of``).
_APPLICATION_FIELDS = (
    "reference", "enterprise_name", "enterprise__name", "uscc", "enterprise__uscc", "work_title",
    "filing_number", "overseas", "provider_id", "provider__name", "provider_name", "status", "submitted_on",
    "received_date", "requested_amount", "granted_amount", "approved_on", "payment__date", "paid_on",
    "paid_amount", "clawed_back_amount", "repaid_amount", "written_off_amount", "policy_version",
)  # fmt: skip


def _applications_sheet(ws: Any, year: int) -> int:
    start, end = year_bounds(year)
    qs = (
        Application.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
        .order_by("submitted_at", "id")
        .annotate(
            submitted_on=common.local_date_of("submitted_at"),
            approved_on=common.local_date_of("approved_at"),
            paid_on=common.local_date_of("paid_at"),
        )
        .values_list(*_APPLICATION_FIELDS)
    )
    headers = [
        _("申报编号"),
        _("企业名称"),
        _("统一社会信用代码"),
        _("短剧作品名称"),
        _("作品备案证明编号"),
        _("是否出海发行"),
        _("算力提供方"),
        _("状态"),
        _("提交日期"),
        _("受理日期"),
        _("申请金额（元）"),
        _("核定金额（元）"),
        _("审批日期"),
        _("兑现日期"),
        _("兑现金额（元）"),
        _("追回金额（元）"),
        _("缴回金额（元）"),
        _("核销金额（元）"),
        _("追回未结（元）"),
        _("政策参数版本"),
    ]

    # Labels are translated once, not once per row (a year can hold ten thousand rows).
    labels = status_labels()
    yes, no = _("是"), _("否")

    def rows() -> Any:
        for (
            reference, enterprise_name, enterprise_registered_name, uscc, enterprise_uscc, work_title,
            filing_number, overseas, provider_id, provider_registered_name, provider_name, status, submitted_on,
            received_date, requested_amount, granted_amount, approved_on, payment_date, paid_on,
            paid_amount, clawed_back_amount, repaid_amount, written_off_amount, policy_version,
        ) in qs.iterator(chunk_size=ITERATOR_CHUNK):  # fmt: skip
            yield [
                reference or "",
                enterprise_name or enterprise_registered_name,
                uscc or enterprise_uscc,
                work_title,
                filing_number,
                yes if overseas else no,
                provider_registered_name if provider_id is not None else provider_name,
                labels[status],
                submitted_on,
                received_date,
                requested_amount,
                granted_amount,
                approved_on,
                # A payment's date (a payment record's date is never empty), else the day paid.
                payment_date if payment_date is not None else paid_on,
                paid_amount if paid_amount else None,
                clawed_back_amount,
                repaid_amount,
                written_off_amount,
                outstanding(clawed_back_amount, repaid_amount, written_off_amount),
                policy_version,
            ]

    return write_sheet(
        ws,
        headers,
        rows(),
        widths=[18, 32, 22, 24, 22, 10, 20, 12, 12, 12, 14, 14, 12, 12, 14, 14, 14, 14, 14, 12],
    )


def _monthly_sheet(ws: Any, year: int) -> int:
    data = queries.monthly(year)
    totals = queries.totals_of(data)
    headers = [
        _("月份"),
        _("提交件数"),
        _("申请金额（元）"),
        _("审批通过件数"),
        _("核定金额（元）"),
        _("兑现件数"),
        _("兑现金额（元）"),
        _("追回金额（元）"),
        _("缴回金额（元）"),
        _("核销金额（元）"),
        _("追回未结（元）"),
        _("累计核定（元）"),
        _("累计兑现（元）"),
    ]
    columns = (
        "submitted",
        "requested",
        "approved",
        "granted",
        "paid_count",
        "paid",
        "clawed_back",
        "repaid",
        "written_off",
        "outstanding",
    )
    rows: list[list[Any]] = []
    for i, month in enumerate(common.MONTHS):
        rows.append(
            [
                _("%(year)s年%(month)s月") % {"year": year, "month": month},
                *(data[key][i] for key in columns),
                data["granted_cumulative"][i],
                data["paid_cumulative"][i],
            ]
        )
    rows.append([_("合计"), *(totals[key] for key in columns), totals["granted"], totals["paid"]])
    written = write_sheet(ws, headers, rows, widths=[14, 10, 16, 12, 16, 10, 16, 16, 16, 16, 16, 16, 16])
    budget = queries.budget_use(
        year, totals["granted"], totals["paid"], totals["clawed_back"], totals["repaid"]
    )
    ws.append([])
    if budget is None:
        append_row(ws, [_("年度预算"), _("未登记预算")])
    else:
        append_row(ws, [_("年度预算（元）"), budget["amount"], budget["reference"]])
        append_row(ws, [_("预算余额（元）"), budget["left"]])
        append_row(ws, [_("核定占预算（%）"), budget["granted_pct"]])
        append_row(ws, [_("兑现占预算（%）"), budget["paid_pct"]])
    return written


def _deadlines_sheet(ws: Any, year: int, today: dt.date) -> int:
    compliance = reports_compliance.deadline_compliance(year, today)
    headers = [
        _("申报编号"),
        _("企业名称"),
        _("状态"),
        _("受理日期"),
        _("审核期限"),
        _("审核办结日期"),
        _("审核时限"),
        _("审批日期"),
        _("兑现期限"),
        _("兑现日期"),
        _("兑现时限"),
        _("兑现周期期限"),
        _("兑现周期"),
        _("期限依据"),
        _("说明"),
    ]
    # Labels are translated once, and a reason once per set of provisional years, not once per row.
    labels = status_labels()
    outcomes = {code: reports_compliance.outcome_label(code) for code in reports_compliance.OUTCOME_LABELS}
    provisional, final = _("暂定"), _("正式")
    reasons: dict[tuple[int, ...], str] = {}

    def explanation(r: reports_compliance.DeadlineRow) -> str:
        reason = reasons.get(r.provisional_years)
        if reason is None:
            reason = reasons[r.provisional_years] = r.provisional_reason
        return "；".join(n for n in (reason, r.note) if n)

    rows = [
        [
            r.reference,
            r.enterprise_name,
            labels[r.status],
            r.received,
            r.review_deadline,
            r.decided,
            outcomes[r.review],
            r.approved,
            r.payment_deadline,
            r.paid,
            outcomes[r.payment],
            r.cycle_deadline,
            outcomes[r.cycle],
            provisional if r.provisional else final,
            explanation(r),
        ]
        for r in compliance.rows
    ]
    written = write_sheet(
        ws, headers, rows, widths=[18, 32, 12, 12, 12, 14, 12, 12, 12, 12, 12, 14, 12, 10, 30]
    )
    ws.append([])
    ws.append(
        [
            safe_cell(v)
            for v in (
                _("指标"),
                _("按期"),
                _("超期"),
                _("已超期未办结"),
                _("办理中"),
                _("无法计算"),
                _("达标率（%）"),
            )
        ]
    )
    for label, attr in ((_("审核时限"), "review"), (_("兑现时限"), "payment"), (_("兑现周期"), "cycle")):
        s = compliance.summary(attr)
        ws.append(
            [safe_cell(label), s["on_time"], s["late"], s["overdue"], s["open"], s["unknown"], s["rate_pct"]]
        )
    return written


def _providers_sheet(ws: Any, year: int) -> int:
    headers = [_("算力提供方"), _("应用场景"), _("记录数"), _("GPU时长（小时）"), _("费用（元）")]
    rows = [
        [r["provider"], r["scenario"], r["records"], r["gpu_hours"], r["cost"]]
        for r in queries.usage_by_provider_and_scenario(year)
    ]
    return write_sheet(ws, headers, rows, widths=[28, 14, 10, 16, 16])


def _spend_sheet(ws: Any, year: int) -> int:
    from reports.usage_spend import usage_spend

    headers = [_("用量类型"), _("厂商"), _("单位"), _("用量"), _("现金支出（元）")]
    rows = [[r["kind"], r["vendor"], r["unit"], Decimal(r["quantity"]), Decimal(r["cash"])] for r in usage_spend(year)]
    return write_sheet(ws, headers, rows, widths=[16, 24, 14, 18, 16])


SKIPPED_FINDING_FIELDS = (models.JSONField, models.BinaryField, models.FileField)


def _findings_sheet(ws: Any, year: int) -> int:
    """Every finding opened in the year, one column per field of the audits app's model.

    The columns follow the model (its Chinese ``verbose_name``), so the sheet keeps up with the
    audits app without a second list of fields here.
    """
    qs = queries.findings_of_year(year)
    fields = [f for f in qs.model._meta.concrete_fields if not isinstance(f, SKIPPED_FINDING_FIELDS)]
    relations = [f.name for f in fields if f.is_relation]
    # A finding names its application; the enterprise behind it is what a reader looks for first.
    relations.append("application__enterprise")
    headers = [_("企业名称")] + [_("核查发现编号") if f.primary_key else str(f.verbose_name) for f in fields]

    def value(obj: models.Model, f: models.Field[Any, Any]) -> Any:
        if f.is_relation:
            related = getattr(obj, f.name)
            return str(related) if related is not None else None
        if f.choices:
            return getattr(obj, f"get_{f.name}_display")()
        return getattr(obj, f.attname)

    def rows() -> Any:
        for obj in qs.select_related(*relations).order_by("pk").iterator(chunk_size=ITERATOR_CHUNK):
            values = [value(obj, f) for f in fields]
            app = obj.application
            values.insert(0, app.enterprise_name or app.enterprise.name)
            yield values

    return write_sheet(ws, headers, rows())
