from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.filetypes import DOCUMENT_TYPES
from core.uploads import CheckedUpload, check_upload
from core.validators import normalize_email, normalize_phone, normalize_uscc
from enterprises.models import Enterprise, Right


class EnterpriseFieldsMixin:
    """Cleaners for the fields an enterprise record shares with the application form (rows 1–9)."""

    cleaned_data: dict[str, Any]

    def clean_uscc(self) -> str:
        return normalize_uscc(self.cleaned_data.get("uscc", ""))

    def clean_legal_rep_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("legal_rep_phone", ""))

    def clean_handler_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("handler_phone", ""))

    def clean_handler_email(self) -> str:
        return normalize_email(self.cleaned_data.get("handler_email", ""))


class RegistrationForm(EnterpriseFieldsMixin, forms.Form):
    """企业注册: the first user's account plus the enterprise record and its business licence."""

    name = forms.CharField(label=_("企业名称"), max_length=100)
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=30, help_text=_("18 位，见营业执照"))
    registered_address = forms.CharField(label=_("注册地址"), max_length=200)
    operating_address = forms.CharField(
        label=_("实际经营地址"), max_length=200, required=False, help_text=_("不填则与注册地址相同")
    )
    legal_rep_name = forms.CharField(label=_("法定代表人"), max_length=50)
    legal_rep_phone = forms.CharField(label=_("法定代表人电话"), max_length=30)
    handler_name = forms.CharField(label=_("经办人"), max_length=50)
    handler_phone = forms.CharField(label=_("经办人电话"), max_length=30)
    handler_email = forms.CharField(label=_("经办人邮箱"), max_length=254)
    license = forms.FileField(label=_("营业执照（PDF/JPEG/PNG，加盖公章）"))
    username = forms.CharField(label=_("登录用户名"), max_length=150)
    password1 = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("确认密码"), widget=forms.PasswordInput, strip=False)

    checked_license: CheckedUpload | None = None

    # No check here that the user name or the USCC is free: a form error would tell anyone
    # whether they exist. ``actions.submit_registration`` handles a collision by e-mail.

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip()

    def clean_license(self) -> Any:
        upload = self.cleaned_data["license"]
        self.checked_license = check_upload(upload, DOCUMENT_TYPES)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("operating_address") and data.get("registered_address"):
            data["operating_address"] = data["registered_address"]
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2:
            if p1 != p2:
                self.add_error("password2", _("两次输入的密码不一致"))
            else:
                try:
                    candidate = get_user_model()(
                        username=data.get("username", ""), email=data.get("handler_email", "")
                    )
                    password_validation.validate_password(p1, candidate)
                except ValidationError as exc:
                    self.add_error("password1", exc)
        return data


class MemberForm(forms.Form):
    """An enterprise user adds a colleague's account (several users per enterprise)."""

    username = forms.CharField(label=_("登录用户名"), max_length=150)
    display_name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=30)
    email = forms.CharField(label=_("邮箱"), max_length=254)
    password = forms.CharField(label=_("初始密码"), widget=forms.PasswordInput, strip=False)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(_("该用户名已被使用"), code="duplicate")
        return username

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("phone", ""))

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data.get("email", ""))

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        candidate = get_user_model()(
            username=self.cleaned_data.get("username", ""), email=self.cleaned_data.get("email", "")
        )
        password_validation.validate_password(password, candidate)
        return password


class VerifyForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("核验结论"), choices=[("verified", _("核验通过")), ("rejected", _("不通过"))]
    )
    note = forms.CharField(label=_("核验意见"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "rejected" and not data.get("note"):
            self.add_error("note", _("不通过时请填写原因"))
        return data


class DelegationForm(forms.Form):
    """The legal representative grants a handler (经办人) rights until a date."""

    handler = forms.TypedChoiceField(label=_("经办人"), coerce=int)
    rights = forms.MultipleChoiceField(
        label=_("授权事项"),
        choices=Right.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一项授权事项")},
    )
    expires_on = forms.DateField(
        label=_("授权有效期至"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("请填写授权有效期"),
            "invalid": _("请填写有效的日期，格式：年-月-日（如 2026-12-31）"),
        },
    )

    def __init__(self, *args: Any, enterprise: Enterprise, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = enterprise.users.exclude(pk=enterprise.legal_representative_id or 0).order_by("id")
        handler = self.fields["handler"]
        assert isinstance(handler, forms.TypedChoiceField)
        handler.choices = [(u.pk, f"{u.display_name or u.username}（{u.username}）") for u in members]
        self.fields["handler"].error_messages["invalid_choice"] = _("请选择本企业的其他用户作为经办人")

    def clean_expires_on(self) -> Any:
        value = self.cleaned_data["expires_on"]
        if value < timezone.localdate():
            raise ValidationError(_("授权有效期不能早于今天"))
        return value


class LicenceUploadForm(forms.Form):
    """A changed business licence: uploaded as a new version for the center to verify."""

    license = forms.FileField(
        label=_("新版营业执照（PDF/JPEG/PNG，加盖公章）"),
        error_messages={"required": _("请选择营业执照文件")},
    )

    checked_license: CheckedUpload | None = None

    def clean_license(self) -> Any:
        upload = self.cleaned_data["license"]
        self.checked_license = check_upload(upload, DOCUMENT_TYPES)
        return upload
