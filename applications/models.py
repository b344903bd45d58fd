from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from applications.states import HOLDS_FILING_NUMBER, Status
from core.signatures import SignedFile

ZERO = Decimal("0.00")


class MaterialKind(models.TextChoices):
    """Materials of docs/form.md (申报材料), with whether each is required."""

    APPLICATION_FORM = "application_form", _("盖章申请表")
    BUSINESS_LICENSE = "business_license", _("营业执照复印件")
    FILING_CERTIFICATE = "filing_certificate", _("作品备案证明")
    CONSUMPTION_DETAIL = "consumption_detail", _("算力消耗明细单")
    SETTLEMENT_VOUCHER = "settlement_voucher", _("结算凭证")
    USAGE_LOG = "usage_log", _("算力平台使用日志")
    LAUNCH_PROOF = "launch_proof", _("上线播出证明")
    OVERSEAS_PROOF = "overseas_proof", _("出海发行证明")
    OTHER = "other", _("其他补充材料")


REQUIRED_MATERIALS = (
    MaterialKind.APPLICATION_FORM,
    MaterialKind.BUSINESS_LICENSE,
    MaterialKind.FILING_CERTIFICATE,
    MaterialKind.CONSUMPTION_DETAIL,
    MaterialKind.SETTLEMENT_VOUCHER,
    MaterialKind.USAGE_LOG,
    MaterialKind.LAUNCH_PROOF,
)


def outstanding(clawed_back: Decimal, repaid: Decimal, written_off: Decimal) -> Decimal:
    """The receivable still open of an application's money record: clawed back less repaid and
    written off. ``Application.outstanding_amount``, and the rows an export reads as plain values."""
    return clawed_back - repaid - written_off


class ApplicationQuerySet(models.QuerySet["Application"]):
    def visible_to(self, user: object) -> ApplicationQuerySet:
        """Applications a user may see: their enterprise's own; all for center staff; none otherwise."""
        from accounts.roles import STAFF_ROLES

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.has_role(*STAFF_ROLES):  # type: ignore[attr-defined]
            return self.all()
        enterprise_id = getattr(user, "enterprise_id", None)
        if enterprise_id is None:
            return self.none()
        return self.filter(enterprise_id=enterprise_id)


class Application(models.Model):
    """One application (申请) for one short-drama work: the 26 rows of the source form plus workflow state.

    Rows 1–9 are copied from the enterprise record when the draft is created and can be
    corrected by the applicant; row 1 must still equal the registered name at submission.
    Row 24 is derived from row 16 and row 25 is computed by ``policy.rules`` — neither is typed.
    """

    reference = models.CharField(_("申报编号"), max_length=20, unique=True, null=True, blank=True)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("企业"),
        on_delete=models.PROTECT,
        related_name="applications",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=24, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    # Rows 1–9: the enterprise.
    enterprise_name = models.CharField(_("企业名称"), max_length=100, blank=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    registered_address = models.CharField(_("注册地址"), max_length=200, blank=True)
    operating_address = models.CharField(_("实际经营地址"), max_length=200, blank=True)
    legal_rep_name = models.CharField(_("法定代表人"), max_length=50, blank=True)
    legal_rep_phone = models.CharField(_("法定代表人电话"), max_length=20, blank=True)
    handler_name = models.CharField(_("经办人"), max_length=50, blank=True)
    handler_phone = models.CharField(_("经办人电话"), max_length=20, blank=True)
    handler_email = models.CharField(_("经办人邮箱"), max_length=254, blank=True)

    # Rows 10–15: the work.
    work_title = models.CharField(_("短剧作品名称"), max_length=100, blank=True)
    filing_number = models.CharField(_("作品备案证明编号"), max_length=64, blank=True, db_index=True)
    work_minutes = models.PositiveIntegerField(_("作品制作时长（分钟）"), null=True, blank=True)
    platform_name = models.CharField(_("上线平台名称"), max_length=100, blank=True)
    launch_date = models.DateField(_("上线时间"), null=True, blank=True)
    launch_proof_number = models.CharField(_("上线播放证明材料编号"), max_length=100, blank=True)

    # Rows 16–20: overseas distribution.
    overseas = models.BooleanField(_("是否出海发行"), default=False)
    overseas_region = models.CharField(_("出海地区"), max_length=100, blank=True)
    overseas_agreement_number = models.CharField(_("出海发行协议编号"), max_length=100, blank=True)
    overseas_platform = models.CharField(_("海外平台"), max_length=100, blank=True)
    overseas_launch_date = models.DateField(_("海外上线时间"), null=True, blank=True)

    # Rows 21–25: compute.
    provider = models.ForeignKey(
        "enterprises.Provider",
        verbose_name=_("算力提供方"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    provider_name = models.CharField(_("算力提供方 / 代理方名称"), max_length=100, blank=True)
    compute_minutes = models.PositiveIntegerField(_("算力消耗总时长（分钟）"), null=True, blank=True)
    total_compute_cost = models.DecimalField(
        _("总算力成本金额（元）"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    requested_amount = models.DecimalField(
        _("申请算力服务支持金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    calculation = models.JSONField(_("测算明细"), null=True, blank=True)
    policy_version = models.CharField(_("政策参数版本"), max_length=20, blank=True)

    # Row 26: the declaration.
    declaration_accepted = models.BooleanField(_("已确认声明"), default=False)
    signer_name = models.CharField(_("声明签署人"), max_length=50, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("声明确认账号"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # What the platform already holds (docs/form.md, materials): the enterprise's verified business
    # licence, fixed at submission so a later upload never changes what was submitted.
    licence = models.ForeignKey(
        "enterprises.LicenceVersion",
        verbose_name=_("营业执照版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )

    # Workflow facts.
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    received_date = models.DateField(_("受理日期"), null=True, blank=True)
    granted_amount = models.DecimalField(
        _("核定补贴金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    paid_at = models.DateTimeField(_("兑现时间"), null=True, blank=True)
    # The application's money record (三（三）, 五 4): every money figure of the platform (the
    # annual cap, the quota, the budget, the reports) is a sum of these. Each is written only by
    # the action of its event, in that event's transaction: payment, clawback, repayment,
    # write-off. The check constraints keep them consistent whatever path writes them.
    paid_amount = models.DecimalField(_("已兑现金额（元）"), max_digits=12, decimal_places=2, default=ZERO)
    clawed_back_amount = models.DecimalField(
        _("追回金额（元）"), max_digits=12, decimal_places=2, default=ZERO
    )
    repaid_amount = models.DecimalField(_("已缴回金额（元）"), max_digits=12, decimal_places=2, default=ZERO)
    written_off_amount = models.DecimalField(
        _("核销金额（元）"), max_digits=12, decimal_places=2, default=ZERO
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("申请")
        verbose_name_plural = _("申请")
        ordering = ["-id"]
        constraints = [
            # One work, one subsidy (docs/form.md row 11): a filing number is held by at most one live application.
            # Compared without regard to case, as the checks in applications/checks.py compare it.
            models.UniqueConstraint(
                Upper("filing_number"),
                # In the enum's order: iterating the frozenset would change with the hash seed
                # and make makemigrations see a new constraint on every run.
                condition=Q(status__in=[s.value for s in Status if s in HOLDS_FILING_NUMBER]),
                name="unique_live_filing_number",
            ),
            models.CheckConstraint(
                condition=Q(granted_amount__isnull=True) | Q(granted_amount__gte=Decimal("0")),
                name="granted_amount_not_negative",
            ),
            # Paid is nothing or at most what was granted; only paid money is clawed back; the
            # receivable is settled by repayments and a write-off, never beyond its amount.
            models.CheckConstraint(
                condition=Q(paid_amount=ZERO) | Q(paid_amount__lte=F("granted_amount")),
                name="paid_within_granted",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=ZERO)
                & Q(clawed_back_amount__gte=ZERO)
                & Q(clawed_back_amount__lte=F("paid_amount")),
                name="clawed_back_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(repaid_amount__gte=ZERO)
                & Q(written_off_amount__gte=ZERO)
                & Q(repaid_amount__lte=F("clawed_back_amount") - F("written_off_amount")),
                name="receivable_settled_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.reference or _("草稿 #%(pk)s") % {"pk": self.pk}

    @property
    def kept_amount(self) -> Decimal:
        """What the enterprise keeps of its award: granted less clawed back (counts against the cap)."""
        return (self.granted_amount or ZERO) - self.clawed_back_amount

    @property
    def outstanding_amount(self) -> Decimal:
        """The receivable still open: clawed back less repaid and written off (:func:`outstanding`)."""
        return outstanding(self.clawed_back_amount, self.repaid_amount, self.written_off_amount)

    @property
    def support_type(self) -> str:
        """Row 24, derived from row 16."""
        return str(_("出海发行作品算力补助")) if self.overseas else str(_("国内作品算力补助"))

    def required_material_kinds(self) -> list[MaterialKind]:
        """docs/form.md: the seven required materials, plus the overseas proof iff row 16 is yes."""
        kinds = list(REQUIRED_MATERIALS)
        if self.overseas:
            kinds.append(MaterialKind.OVERSEAS_PROOF)
        return kinds

    def current_materials(self) -> models.QuerySet[Material]:
        """Materials in force: not removed from a draft, and of each kind only the latest version.

        A supplement adds a new version of a kind and keeps the old ones (docs/form.md); reviewers
        and the totals check read the latest version of each kind.
        """
        live = self.materials.filter(deleted=False)
        latest = {row["kind"]: row["top"] for row in live.values("kind").annotate(top=models.Max("version"))}
        keep = Q(pk__in=[])
        for kind, version in latest.items():
            keep |= Q(kind=kind, version=version)
        return live.filter(keep)


class Material(SignedFile, models.Model):
    """One uploaded file of an application. Rows are never changed: a supplement adds a new version."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="materials")
    kind = models.CharField(_("材料类别"), max_length=24, choices=MaterialKind.choices)
    file = models.FileField(_("文件"), max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=120)
    mime = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    flags = models.JSONField(_("检查标记"), default=list, blank=True)
    # What the file's digital signatures said on upload (core.signatures); empty for images and tables.
    signature = models.JSONField(_("签名验证结果"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    supplement_round = models.PositiveIntegerField(_("补充轮次"), default=0)
    locked = models.BooleanField(_("已锁定"), default=False)
    deleted = models.BooleanField(_("已删除（草稿）"), default=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("申报材料")
        verbose_name_plural = _("申报材料")
        ordering = ["kind", "version", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}: {self.original_name}"

    @property
    def inline_viewable(self) -> bool:
        """Images and PDFs may be shown in the browser; tables are only downloaded."""
        return self.mime in ("application/pdf", "image/jpeg", "image/png")

    @property
    def is_table(self) -> bool:
        return self.mime in (
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )


class ConsumptionRow(models.Model):
    """One parsed row of a consumption detail (算力消耗明细单, docs/form.md), kept for reconciliation (docs/audits.md).

    ``row_number`` is the row in the uploaded file, the header being row 1. Rows are written
    once, when the file is accepted, and never changed; removing a draft file removes its rows.
    """

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="consumption_rows", verbose_name=_("申请")
    )
    material = models.ForeignKey(
        Material, on_delete=models.CASCADE, related_name="consumption_rows", verbose_name=_("明细文件")
    )
    row_number = models.PositiveIntegerField(_("行号"))
    record_id = models.CharField(_("记录编号"), max_length=64, db_index=True)
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    resource = models.CharField(_("算力资源"), max_length=64)
    quantity = models.PositiveIntegerField(_("数量（卡）"))
    minutes = models.PositiveIntegerField(_("时长（分钟）"))
    unit_price = models.DecimalField(_("单价（元/卡·小时）"), max_digits=12, decimal_places=4)
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    scenario = models.CharField(_("使用场景"), max_length=20)

    class Meta:
        verbose_name = _("算力消耗明细行")
        verbose_name_plural = _("算力消耗明细行")
        ordering = ["material_id", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["material", "row_number"], name="unique_consumption_row"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} ({self.minutes} min, {self.amount})"


class UsageFile(models.Model):
    """How one consumption-detail file was read (docs/usage-formats.md): its format, the lines left out."""

    material = models.OneToOneField(
        Material, on_delete=models.CASCADE, related_name="usage_file", verbose_name=_("明细文件")
    )
    format = models.CharField(_("格式"), max_length=16)
    records = models.PositiveIntegerField(_("记录数"), default=0)
    rejections = models.JSONField(_("未计入的行"), default=list, blank=True)

    class Meta:
        verbose_name = _("用量明细文件")
        verbose_name_plural = _("用量明细文件")

    def __str__(self) -> str:
        return f"{self.material_id} {self.format}"


class UsageLineRow(models.Model):
    """One usage line of a consumption detail or vendor export (``applications.usage_lines.UsageLine``).

    Written once, when the file is accepted, and never changed; removing a draft file removes its lines.
    """

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="usage_lines", verbose_name=_("申请")
    )
    material = models.ForeignKey(
        Material, on_delete=models.CASCADE, related_name="usage_lines", verbose_name=_("明细文件")
    )
    line_number = models.PositiveIntegerField(_("行号"))
    kind = models.CharField(_("类型"), max_length=20)
    vendor = models.CharField(_("厂商"), max_length=128)
    reseller_name = models.CharField(_("代理方"), max_length=128, blank=True)
    reseller_uscc = models.CharField(_("代理方统一社会信用代码"), max_length=18, blank=True)
    account = models.CharField(_("账号"), max_length=128, blank=True)
    category = models.CharField(_("类别"), max_length=20)
    sku = models.CharField(_("模型或规格"), max_length=256, blank=True)
    task_id = models.CharField(_("任务编号"), max_length=128, blank=True, db_index=True)
    period_start = models.DateTimeField(_("开始时间"), null=True, blank=True)
    period_end = models.DateTimeField(_("结束时间"), null=True, blank=True)
    bill_period = models.CharField(_("账期"), max_length=7, blank=True)
    day = models.DateField(_("日期"), null=True, blank=True)
    quantity = models.DecimalField(_("用量"), max_digits=24, decimal_places=6)
    unit = models.CharField(_("单位"), max_length=20)
    output_seconds = models.DecimalField(_("生成时长（秒）"), max_digits=16, decimal_places=3, null=True, blank=True)
    resolution = models.CharField(_("分辨率"), max_length=32, blank=True)
    unit_price = models.DecimalField(_("单价"), max_digits=20, decimal_places=8, null=True, blank=True)
    list_amount = models.DecimalField(_("目录金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    discount = models.DecimalField(_("折扣优惠"), max_digits=20, decimal_places=6, null=True, blank=True)
    coupon = models.DecimalField(_("优惠券抵扣"), max_digits=20, decimal_places=6, null=True, blank=True)
    voucher = models.DecimalField(_("算力券抵扣"), max_digits=20, decimal_places=6, null=True, blank=True)
    pack_units = models.DecimalField(_("资源包抵扣"), max_digits=24, decimal_places=6, null=True, blank=True)
    pack_id = models.CharField(_("资源包编号"), max_length=64, blank=True)
    payable = models.DecimalField(_("应付金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    paid = models.DecimalField(_("实付金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    invoice_no = models.CharField(_("发票号码"), max_length=32, blank=True, db_index=True)
    settlement_ref = models.CharField(_("结算单号"), max_length=64, blank=True)
    bill_line_id = models.CharField(_("账单明细编号"), max_length=192, blank=True, db_index=True)
    raw_sha256 = models.CharField(_("原始行 SHA-256"), max_length=64, blank=True, db_index=True)
    source = models.CharField(_("来源"), max_length=24)
    status = models.CharField(_("任务状态"), max_length=16, default="succeeded")

    class Meta:
        verbose_name = _("用量明细行")
        verbose_name_plural = _("用量明细行")
        ordering = ["material_id", "line_number", "pk"]

    def __str__(self) -> str:
        return f"{self.vendor} {self.sku} {self.quantity} {self.unit}"


class SampledClip(models.Model):
    """A raw generated clip the applicant sampled, with what its AIGC implicit label says
    (``applications.aigc``, docs/usage-formats.md#sampled-clips). Findings are computed against the
    declared lines when shown, so they follow the detail in force."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="sampled_clips", verbose_name=_("申请")
    )
    file = models.CharField(_("存储路径"), max_length=255)
    original_name = models.CharField(_("原文件名"), max_length=255)
    mime = models.CharField(_("类型"), max_length=64)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    label = models.JSONField(_("AIGC 隐式标识"), null=True, blank=True)
    duration = models.DecimalField(_("时长（秒）"), max_digits=12, decimal_places=3, null=True, blank=True)
    width = models.PositiveIntegerField(_("宽"), null=True, blank=True)
    height = models.PositiveIntegerField(_("高"), null=True, blank=True)
    read_error = models.CharField(_("读取问题"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("抽样片段")
        verbose_name_plural = _("抽样片段")
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Work(models.Model):
    """A work (作品) registered when production starts (docs/offers.md): its reference is the
    ``work_ref`` its providers and the agent put on usage, so usage of every kind accumulates against
    it in the log before any application exists. Recording the launch (上线) triggers the offer."""

    reference = models.CharField(_("作品编号"), max_length=20, unique=True, null=True, blank=True)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("企业"), on_delete=models.PROTECT, related_name="works"
    )
    title = models.CharField(_("作品名称"), max_length=100)
    expected_filing_number = models.CharField(_("预计备案编号"), max_length=64, blank=True)
    planned_platforms = models.CharField(_("计划上线平台"), max_length=100, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    # The launch (rows 11–15): filled when the enterprise records it.
    launch_date = models.DateField(_("上线时间"), null=True, blank=True)
    platforms = models.CharField(_("上线平台名称"), max_length=100, blank=True)
    play_url = models.URLField(_("播放链接"), max_length=300, blank=True)
    filing_number = models.CharField(_("作品备案证明编号"), max_length=64, blank=True)
    work_minutes = models.PositiveIntegerField(_("作品制作时长（分钟）"), null=True, blank=True)
    screenshot = models.CharField(_("上线截图存储路径"), max_length=200, blank=True)
    screenshot_name = models.CharField(_("上线截图原文件名"), max_length=120, blank=True)
    screenshot_mime = models.CharField(_("上线截图类型"), max_length=100, blank=True)
    screenshot_sha256 = models.CharField(_("上线截图 SHA-256"), max_length=64, blank=True)
    screenshot_size = models.PositiveIntegerField(_("上线截图大小（字节）"), null=True, blank=True)
    filing_verified = models.BooleanField(_("备案证明已核验"), default=False)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上线登记人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    launched_at = models.DateTimeField(_("上线登记时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("作品")
        verbose_name_plural = _("作品")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.reference or self.pk} {self.title}"

    @property
    def launched(self) -> bool:
        return self.launch_date is not None

    def work_refs(self) -> list[str]:
        """The ``work_ref`` values usage of this work may carry: its reference and its filing numbers."""
        refs = [self.reference or "", self.filing_number, self.expected_filing_number]
        return sorted({ref.strip() for ref in refs if ref and ref.strip()})


class Offer(models.Model):
    """The subsidy the platform offers for a launched work from the usage it holds (达标即享)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待确认")
        ACCEPTED = "accepted", _("已接受")
        DECLINED = "declined", _("已放弃")
        EXPIRED = "expired", _("已过期未领取")

    work = models.OneToOneField(Work, verbose_name=_("作品"), on_delete=models.PROTECT, related_name="offer")
    status = models.CharField(
        _("状态"), max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    estimate = models.DecimalField(_("预计补助金额（元）"), max_digits=12, decimal_places=2)
    base = models.DecimalField(_("平台持有的实付算力成本（元）"), max_digits=14, decimal_places=2)
    breakdown = models.JSONField(_("测算明细"), default=dict)
    evidence = models.JSONField(_("平台已持有的证据"), default=list)
    missing = models.JSONField(_("尚缺的材料"), default=list)
    lines = models.JSONField(_("用量行"), default=list)
    apply_by = models.DateField(_("申报截止日"))
    apply_by_provisional = models.BooleanField(_("截止日暂定"), default=False)
    reminders_sent = models.JSONField(_("已发送的提醒（截止前工作日数）"), default=list)
    application = models.OneToOneField(
        Application,
        verbose_name=_("申请"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="offer",
    )
    decline_reason = models.CharField(_("放弃原因"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("推送时间"))
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("补助要约")
        verbose_name_plural = _("补助要约")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.work} {self.get_status_display()}"


class AnnualGrant(models.Model):
    """What one enterprise keeps of its awards of one calendar (submission) year (三（三）).

    The one record of the annual cap, read and written only through ``applications.money``:
    final approval adds the amount it grants, a clawback takes its amount out again, always
    with the rows locked in the order that module defines. The check constraint
    ``total <= cap`` is the database's own guarantee that no path grants past the annual cap.
    ``cap`` is copied from the policy parameters at grant time. The table keeps the name it had
    when the review app held it, so the log's sealed entries of its rows stay valid.
    """

    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("企业"),
        on_delete=models.PROTECT,
        related_name="annual_grants",
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    total = models.DecimalField(_("已核定总额（元）"), max_digits=12, decimal_places=2, default=Decimal("0"))
    cap = models.DecimalField(_("年度上限（元）"), max_digits=12, decimal_places=2)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        db_table = "review_annualgrant"
        verbose_name = _("企业年度补助总额")
        verbose_name_plural = _("企业年度补助总额")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "year"], name="unique_annual_grant"),
            models.CheckConstraint(condition=Q(total__lte=F("cap")), name="annual_grant_within_cap"),
            models.CheckConstraint(condition=Q(total__gte=Decimal("0")), name="annual_grant_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.year}: {self.total}/{self.cap}"
