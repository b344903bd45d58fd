"""Chinese names of audit actions, for every page, export and e-mail that shows an event.

The log stores machine codes (``accounts.roles_changed``); people read these labels. Apps
above the ledger whose codes come from their own tables (the review transitions) add them
with :func:`register_action_labels` when they load, so each label has one home.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

_LABELS: dict[str, object] = {
    "accounts.create": _("创建账号"),
    "accounts.active_changed": _("启用/停用账号"),
    "accounts.roles_changed": _("分配角色"),
    "accounts.unlock": _("解除登录锁定"),
    "accounts.security_policy": _("修改安全策略"),
    "system.settings": _("修改系统设置"),
    "audit.log_export": _("导出审计日志"),
    "auth.login": _("登录"),
    "auth.logout": _("退出登录"),
    "auth.login_failed": _("登录失败"),
    "auth.locked_out": _("账号被锁定"),
    "auth.mfa_verified": _("通过动态口令验证"),
    "auth.mfa_failed": _("动态口令验证失败"),
    "auth.mfa_enrolment_issued": _("签发动态口令绑定链接"),
    "auth.mfa_enrolled": _("绑定动态口令验证器"),
    "application.take_over": _("接手初审"),
    "enterprise.register_refused": _("企业注册未受理（用户名或信用代码已存在）"),
    "enterprise.registration_confirmed": _("确认企业注册"),
    "auth.password_changed": _("修改密码"),
    "accounts.notification_settings": _("修改通知设置"),
    "auth.session_timeout": _("会话超时退出"),
    "application.create": _("创建申报"),
    "application.update": _("修改申报"),
    "application.submit": _("提交申报"),
    "application.withdraw": _("撤回申报"),
    "application.delete_draft": _("删除申报草稿"),
    "application.material_upload": _("上传材料"),
    "application.material_remove": _("删除材料"),
    "application.material_download": _("下载材料"),
    "application.pdf_download": _("下载申报表"),
    "application.clawback": _("追回补贴"),
    "application.on_site_check": _("记录现场核查"),
    "review.approval_form_print": _("打印审批表"),
    "review.progress_query": _("办件进度查询"),
    "review.attachment_download": _("下载审核附件"),
    "review.deadline_reminders": _("发送时限提醒"),
    "review.ledger_export": _("导出审核台账"),
    "review.notify": _("发送审核通知"),
    "audit.data_notice": _("发出数据告知"),
    "audit.evidence_download": _("下载核查证据"),
    "audit.notice_pdf_download": _("下载数据告知书"),
    "audit.clawback_pdf_download": _("下载追回决定书"),
    "audit.finding.create": _("登记核查发现"),
    "audit.finding.decide": _("核查发现处理决定"),
    "audit.objection": _("提出异议"),
    "audit.reconcile": _("数据核对"),
    "audit.reconcile_batch": _("批量数据核对"),
    "audit.repayment": _("登记退回款项"),
    "audit.spot_check": _("抽查"),
    "audit.blacklist_export": _("导出黑名单"),
    "enterprise.register": _("企业注册"),
    "enterprise.verify": _("企业资质核验"),
    "enterprise.add_member": _("添加企业经办人"),
    "enterprise.blacklist": _("列入黑名单"),
    "enterprise.blacklist_lift": _("移出黑名单"),
    "enterprise.license_download": _("下载营业执照"),
    "provider.register": _("算力提供方注册"),
    "provider.create": _("创建算力提供方"),
    "provider.status": _("变更算力提供方状态"),
    "provider.node_register": _("登记算力节点"),
    "provider.node_disable": _("停用算力节点"),
    "provider.node_enable": _("启用算力节点"),
    "provider.token_issue": _("签发接口密钥"),
    "provider.token_revoke": _("吊销接口密钥"),
    "usage.batch_receive": _("接收用量数据"),
    "usage.csv": _("导入用量文件"),
    "ledger.verify": _("日志完整性校验"),
    "calendar.load": _("导入节假日安排"),
    "report.export": _("导出统计报表"),
}


def register_action_labels(labels: dict[str, object]) -> None:
    _LABELS.update(labels)


def action_label(code: str) -> str:
    """The Chinese name of an action code; an unknown code is named by its family, never shown raw."""
    label = _LABELS.get(code)
    if label is not None:
        return str(label)
    family = {
        "accounts": _("账号管理"),
        "auth": _("登录与鉴别"),
        "application": _("申报办理"),
        "review": _("审核办理"),
        "audit": _("稽查核查"),
        "enterprise": _("企业管理"),
        "provider": _("算力提供方管理"),
        "usage": _("用量数据"),
        "ledger": _("日志"),
        "system": _("系统管理"),
    }.get(code.split(".", 1)[0], _("其他操作"))
    return str(family)


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every named action, sorted by label, for filters."""
    return sorted(((code, str(label)) for code, label in _LABELS.items()), key=lambda pair: pair[1])


# --- the details of an event (its ``before`` and ``after``) ---------------------------------------
#
# The keys of the details are field names (``work_title``) and their values are often codes
# (``paid``, ``consumption_detail``). Each app names its own with :func:`register_model_labels`
# (fields' verbose names and choices) or :func:`register_detail_labels`; the keys every app
# shares are named here.

_FIELD_LABELS: dict[str, object] = {
    "status": _("状态"),
    "opinion": _("意见"),
    "reason": _("理由"),
    "reasons": _("理由"),
    "note": _("说明"),
    "name": _("名称"),
    "kind": _("类别"),
    "amount": _("金额（元）"),
    "date": _("日期"),
    "day": _("日期"),
    "year": _("年度"),
    "quarter": _("季度"),
    "reference": _("申报编号"),
    "version": _("版本"),
    "round": _("轮次"),
    "size": _("大小（字节）"),
    "sha256": _("SHA-256 摘要"),
    "digest": _("摘要"),
    "seed": _("种子"),
    "step_id": _("审核步骤编号"),
    "material_id": _("材料编号"),
    "finding_id": _("核查发现编号"),
    "clawback_id": _("追回记录编号"),
    "enterprise_id": _("企业编号"),
    "node_id": _("节点"),
    "uscc": _("统一社会信用代码"),
    "prefix": _("密钥前缀"),
    "public_key": _("公钥"),
    "format": _("格式"),
    "rows": _("条数"),
    "total": _("合计"),
    "recipients": _("收件人数"),
    "items": _("事项"),
    "inline": _("在线查看"),
    "changed": _("变更的项目"),
    "evidence": _("证据"),
    "people": _("人员"),
    "duplicate": _("重复条数"),
    "rejected": _("拒收条数"),
    "flags": _("对账标记"),
    "flagged": _("有标记的申请"),
    "trigger": _("触发方式"),
    "checkpoint_root": _("检查点根哈希"),
    "checkpoint_tree_size": _("检查点树大小"),
    "licence_version": _("营业执照版本"),
    "license_sha256": _("营业执照摘要"),
    "kept": _("企业保留（元）"),
    "repaid": _("已缴回（元）"),
    "outstanding": _("待缴回（元）"),
    "written_off": _("核销（元）"),
    "annual_total": _("年度累计（元）"),
    "binding": _("起决定作用的限额"),
    "minutes": _("时长（分钟）"),
    "sample": _("抽中的申请"),
    "n": _("候选件数"),
    "k": _("抽取件数"),
    "rows_before": _("制作期之前的记录"),
    "rows_after": _("制作期之后的记录"),
    "error": _("错误"),
    "from": _("起始日期"),
    "to": _("截止日期"),
    "source": _("来源"),
    "spot_check": _("季度抽查"),
}
_VALUE_LABELS: dict[str, dict[str, object]] = {}


def register_detail_labels(
    fields: dict[str, object] | None = None, values: dict[str, dict[str, object]] | None = None
) -> None:
    """Name detail keys (``fields``) and the codes a key holds (``values``: key → code → label)."""
    for key, label in (fields or {}).items():
        _FIELD_LABELS.setdefault(key, label)
    for key, labels in (values or {}).items():
        known = _VALUE_LABELS.setdefault(key, {})
        for code, label in labels.items():
            known.setdefault(str(code), label)


def register_model_labels(*models: Any) -> None:
    """Name a model's fields by their verbose names and the codes of its choices by their labels."""
    for model in models:
        for field in model._meta.concrete_fields:
            _FIELD_LABELS.setdefault(field.name, field.verbose_name)
            if field.choices:
                register_detail_labels(values={field.name: dict(field.flatchoices)})


def field_label(key: str) -> str | None:
    """The Chinese name of a detail key, ``None`` when no app named it."""
    label = _FIELD_LABELS.get(key)
    return None if label is None else str(label)


def value_label(key: str, value: Any) -> str | None:
    """The Chinese name of a code held by ``key`` (``status`` = ``paid`` → 已兑现), else ``None``."""
    label = _VALUE_LABELS.get(key, {}).get(str(value))
    return None if label is None else str(label)


# Detail keys that hold an amount of money (as text, "10440.00"); shown as 10,440.00.
MONEY_KEYS = frozenset(
    {"amount", "kept", "repaid", "outstanding", "written_off", "annual_total", "cost", "total_compute_cost"}
)


def is_money_key(key: str) -> bool:
    return key in MONEY_KEYS or key.endswith("_amount")
