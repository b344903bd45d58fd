"""Forms of the administration console. They only validate input; the actions change state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from accounts.roles import ADMIN_ROLES, STAFF_ROLES, Role
from accounts.security import SecurityPolicy, SiteSettings, defaults

if TYPE_CHECKING:  # the stubs make ModelForm generic; at run time it is a plain class
    ModelForm = forms.ModelForm[Any]
else:
    ModelForm = forms.ModelForm

# The roles the security administrator gives in the console. Applicant and provider roles come
# with an enterprise's or provider's registration and are never handed out here.
ASSIGNABLE_ROLES = [r for r in Role if r in STAFF_ROLES or r in ADMIN_ROLES]


class ConsoleForm(forms.Form):
    label_suffix = ""


class AccountCreateForm(ConsoleForm):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("登录时使用，字母、数字或 @ . + - _"),
    )
    display_name = forms.CharField(label=_("姓名"), max_length=50)
    email = forms.EmailField(label=_("电子邮箱"), required=False)
    password1 = forms.CharField(
        label=_("初始密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("首次登录时须修改"),
    )
    password2 = forms.CharField(
        label=_("再次输入初始密码"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


class RolesForm(ConsoleForm):
    roles = forms.MultipleChoiceField(
        label=_("角色"),
        required=False,
        choices=[(r.value, r.label) for r in ASSIGNABLE_ROLES],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("系统、安全、审计管理员三者互斥，且不能兼任业务角色。"),
    )


MFA_CHOICES = [("", _("沿用部署默认")), ("on", _("开启")), ("off", _("关闭"))]


class SecurityPolicyForm(ModelForm):
    """Each empty field keeps the deployment default, named in its help text."""

    label_suffix = ""

    staff_mfa_required = forms.ChoiceField(
        label=_("工作人员与管理员双因素鉴别"), choices=MFA_CHOICES, required=False
    )

    class Meta:
        model = SecurityPolicy
        fields = [
            "password_min_length",
            "password_min_classes",
            "password_max_age_days",
            "lockout_failure_limit",
            "lockout_cooloff_minutes",
            "session_idle_minutes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        base = defaults()
        for name, field in self.fields.items():
            default = getattr(base, name)
            default_text = str(
                (_("开启") if default else _("关闭")) if isinstance(default, bool) else default
            )
            hint = f"{field.help_text}；" if field.help_text else ""
            field.help_text = f"{hint}{_('留空沿用部署默认：')}{default_text}"
        if self.instance.staff_mfa_required is not None and not self.is_bound:
            self.initial["staff_mfa_required"] = "on" if self.instance.staff_mfa_required else "off"

    def policy_values(self) -> dict[str, Any]:
        values = {name: self.cleaned_data.get(name) for name in self.Meta.fields}
        values["staff_mfa_required"] = {"on": True, "off": False}.get(
            self.cleaned_data.get("staff_mfa_required") or ""
        )
        return values


class SiteSettingsForm(ModelForm):
    label_suffix = ""

    class Meta:
        model = SiteSettings
        fields = ["announcement", "service_phone", "service_email", "service_hours"]
        widgets = {"announcement": forms.Textarea(attrs={"rows": 3})}


class AuditSearchForm(ConsoleForm):
    person = forms.CharField(label=_("操作人"), required=False, max_length=150)
    role = forms.ChoiceField(label=_("角色"), required=False)
    action = forms.ChoiceField(label=_("操作"), required=False)
    obj = forms.CharField(label=_("对象"), required=False, max_length=200, help_text=_("对象名称或编号"))
    date_from = forms.DateField(
        label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    admins_only = forms.BooleanField(label=_("只看系统管理员和安全管理员的操作"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from ledger.labels import action_choices

        super().__init__(*args, **kwargs)
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [("", _("全部角色")), *((r.value, r.label) for r in Role)]
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", _("全部操作")), *action_choices()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("截止日期不能早于起始日期。"))
        return data


class NotificationSettingsForm(forms.Form):
    """The user's own contact settings: the mobile number text messages go to, and opting out of them."""

    phone = forms.RegexField(
        label=_("手机号"),
        regex=r"^\+?\d{6,20}$",
        required=False,
        max_length=20,
        error_messages={"invalid": _("请填写6至20位数字的手机号，可带国际区号前的“+”")},
        help_text=_("期限和待办事项的短信提醒发送到此号码。"),
    )
    sms_opt_out = forms.BooleanField(
        label=_("不接收短信提醒"),
        required=False,
        help_text=_("勾选后不再发送短信，站内消息和邮件照常发送。"),
    )
