"""Field validators shared by registration, the application form and the API (docs/form.md rows 2, 6, 8, 9)."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError


def normalize_uscc(value: str) -> str:
    """Validate a 统一社会信用代码 (GB 32100-2015) and return it upper-cased without spaces."""
    compact = stdnum_uscc.compact(value or "")
    try:
        return str(stdnum_uscc.validate(compact))
    except InvalidLength as exc:
        raise ValidationError(_("统一社会信用代码应为18位"), code="uscc_length") from exc
    except InvalidChecksum as exc:
        raise ValidationError(
            _("统一社会信用代码校验位错误，请核对后重新输入"), code="uscc_checksum"
        ) from exc
    except InvalidFormat as exc:
        raise ValidationError(_("统一社会信用代码格式不正确"), code="uscc_format") from exc
    except StdnumError as exc:
        raise ValidationError(_("统一社会信用代码无效"), code="uscc_invalid") from exc


def normalize_phone(value: str) -> str:
    """Validate a mainland mobile or landline number and return it in E.164 (+86…)."""
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(_("请填写电话号码"), code="required")
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("电话号码格式不正确"), code="phone_format") from exc
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("请填写有效的中国大陆手机号或固定电话（固话请带区号）"), code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """Validate an e-mail address by syntax (no DNS lookup) and return its normalised form."""
    try:
        return str(validate_email((value or "").strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValidationError(_("电子邮箱格式不正确"), code="email_invalid") from exc


def display_phone(e164: str) -> str:
    """A phone number for display: 138 0013 8000 for mobiles, 010-12345678 for landlines."""
    try:
        number = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def mask_phone(e164: str) -> str:
    """Masked for roles that need not see it: 138****8000."""
    digits = e164.removeprefix("+86")
    if len(digits) < 7:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"
