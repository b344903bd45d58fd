"""The words of a usage line (docs/usage-formats.md): its kinds, categories, units and sources, shared by
the applicants' declarations (``applications.usage_lines``) and the providers' reports (``monitoring``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

# Kinds of bought compute.
GPU_TIME = "gpu_time"
MODEL_SERVICE = "model_service"
CLOUD_RESOURCE = "cloud_resource"
PACK_PURCHASE = "pack_purchase"
SUBSCRIPTION = "subscription"
KINDS: dict[str, Any] = {
    GPU_TIME: gettext_lazy("GPU 算力时长"),
    MODEL_SERVICE: gettext_lazy("模型服务"),
    CLOUD_RESOURCE: gettext_lazy("云资源"),
    PACK_PURCHASE: gettext_lazy("资源包购买"),
    SUBSCRIPTION: gettext_lazy("会员订阅"),
}

CATEGORIES: dict[str, Any] = {
    "video": gettext_lazy("视频生成"),
    "image": gettext_lazy("图像生成"),
    "text": gettext_lazy("文本"),
    "voice": gettext_lazy("语音"),
    "gpu_instance": gettext_lazy("GPU 实例"),
    "other": gettext_lazy("其他"),
}

# Units of quantity.
UNITS: dict[str, Any] = {
    "gpu_second": gettext_lazy("卡·秒"),
    "input_token": gettext_lazy("输入 token"),
    "output_token": gettext_lazy("输出 token"),
    "token": gettext_lazy("token"),
    "video_second": gettext_lazy("生成视频秒"),
    "image": gettext_lazy("张"),
    "character": gettext_lazy("字符"),
    "pack_unit": gettext_lazy("资源包单位"),
    "instance_hour": gettext_lazy("实例·小时"),
    "request": gettext_lazy("次"),
}

# Where a line came from, strongest first.
AGENT_SIGNED = "agent_signed"
PROVIDER_REPORTED = "provider_reported"
VENDOR_BILL = "vendor_bill"
VENDOR_TASK = "vendor_task"
APPLICANT_DECLARED = "applicant_declared"
SOURCES: dict[str, Any] = {
    AGENT_SIGNED: gettext_lazy("监控代理签名"),
    PROVIDER_REPORTED: gettext_lazy("提供方报送"),
    VENDOR_BILL: gettext_lazy("厂商账单"),
    VENDOR_TASK: gettext_lazy("厂商任务记录"),
    APPLICANT_DECLARED: gettext_lazy("申报方填报"),
}
