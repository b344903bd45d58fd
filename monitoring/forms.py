from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agent.signing import KeyFileError, load_public_key
from core.uploads import read_bounded
from core.validators import normalize_email, normalize_phone, normalize_uscc
from enterprises.models import Provider
from monitoring.models import Node


class NodeForm(forms.Form):
    node_id = forms.CharField(
        label=_("节点标识"), max_length=64, help_text=_("如 hz-gpu-017，与采集程序的 --node-id 一致")
    )
    public_key = forms.CharField(
        label=_("节点公钥"),
        max_length=64,
        help_text=_("在节点上运行 yingdu agent keygen 后输出的 Base64 公钥"),
    )

    def clean_node_id(self) -> str:
        node_id: str = self.cleaned_data["node_id"].strip()
        if Node.objects.filter(node_id=node_id).exists():
            raise ValidationError(_("该节点标识已登记"))
        return node_id

    def clean_public_key(self) -> str:
        key: str = self.cleaned_data["public_key"].strip()
        try:
            load_public_key(key)
        except KeyFileError:
            raise ValidationError(_("公钥须为32字节Ed25519公钥的Base64编码")) from None
        return key


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("用途说明"), max_length=100, required=False, help_text=_("如：1号机房采集程序")
    )


class ProviderStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(Provider.Status.APPROVED, _("批准")), (Provider.Status.SUSPENDED, _("停用"))]
    )


class ProviderRegistrationForm(forms.Form):
    """算力提供方注册: the organisation and its first operator account; staff approve it before it may report."""

    name = forms.CharField(label=_("算力提供方名称"), max_length=100)
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=30)
    contact_name = forms.CharField(label=_("联系人"), max_length=50)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=30)
    contact_email = forms.CharField(label=_("联系邮箱"), max_length=254)
    username = forms.CharField(label=_("登录用户名"), max_length=150)
    password1 = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("确认密码"), widget=forms.PasswordInput, strip=False)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Provider.objects.filter(name=name).exists():
            raise ValidationError(_("该名称已登记"))
        return name

    def clean_uscc(self) -> str:
        return normalize_uscc(self.cleaned_data.get("uscc", ""))

    def clean_contact_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("contact_phone", ""))

    def clean_contact_email(self) -> str:
        return normalize_email(self.cleaned_data.get("contact_email", ""))

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username=username).exists():
            raise ValidationError(_("该用户名已被使用"))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("两次输入的密码不一致"))
        elif p1:
            try:
                password_validation.validate_password(p1, get_user_model()(username=data.get("username", "")))
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class UsageUploadForm(forms.Form):
    """A CSV or ``sacct --parsable2`` file of usage records, with an optional detached signature."""

    FORMATS = [("auto", _("自动识别")), ("csv", _("CSV（平台模板）")), ("sacct", _("Slurm sacct 输出"))]

    file = forms.FileField(label=_("使用记录文件"), help_text=_("UTF-8 编码的 CSV 或 sacct 文本文件"))
    format = forms.ChoiceField(label=_("文件格式"), choices=FORMATS, initial="auto", required=False)
    signature = forms.FileField(
        label=_("签名文件（选填）"),
        required=False,
        help_text=_("yingdu agent sign-file 对该文件生成的 .sig 文件；不上传签名的记录标记为未签名，待核查"),
    )
    gpu_model = forms.CharField(
        label=_("GPU型号（sacct）"), max_length=64, required=False, help_text=_("sacct 未给出型号时使用")
    )
    node_id = forms.CharField(
        label=_("节点标识（sacct）"), max_length=64, required=False, help_text=_("留空时取 NodeList 中第一个节点")
    )
    price_per_gpu_hour = forms.DecimalField(
        label=_("每卡时单价（元，sacct）"),
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        help_text=_("用于计算每条记录的费用；留空按 0 元"),
    )

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or "auto"

    def clean_file(self) -> bytes:
        return read_bounded(self.cleaned_data["file"])

    def clean_signature(self) -> str | None:
        upload = self.cleaned_data.get("signature")
        if not upload:
            return None
        try:
            return read_bounded(upload)[:4096].decode("ascii").strip()
        except UnicodeDecodeError:
            raise ValidationError(_("签名文件须为 Base64 文本")) from None

    def defaults(self) -> dict[str, str]:
        """The ``sacct`` defaults of ``import_usage_file``."""
        data = self.cleaned_data
        price = data.get("price_per_gpu_hour")
        return {
            "node_id": data.get("node_id") or "",
            "gpu_model": data.get("gpu_model") or "",
            "price_per_gpu_hour": str(price if price is not None else "0.00"),
        }
