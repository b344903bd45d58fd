"""Field validators shared by registration, the application form and the API (docs/form.md rows 2, 6, 8, 9)."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

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


def _parsed(value: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse((value or "").strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    return number if number.country_code == 86 and phonenumbers.is_valid_number(number) else None


def is_mobile(value: str) -> bool:
    """Whether ``value`` is a mainland mobile number (a text message can reach it), not a landline."""
    number = _parsed(value)
    return number is not None and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def national_phone(value: str) -> str:
    """A stored number as a person types it: 13911112222 for a mobile, 010-69681234 for a landline
    (never +86…); what is no valid number is returned as it is."""
    number = _parsed(value)
    if number is None:
        return value
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if is_mobile(value):
        return national.replace(" ", "")
    area, _space, rest = national.partition(" ")
    return f"{area}-{rest.replace(' ', '')}" if rest else area


def national_initial(initial: MutableMapping[str, Any], names: Iterable[str]) -> None:
    """Show the phone numbers a form is prefilled with in the national form (``national_phone``)."""
    for name in names:
        value = initial.get(name)
        if isinstance(value, str) and value.startswith("+86"):
            initial[name] = national_phone(value)


def mask_phone(e164: str) -> str:
    """Masked for roles that need not see it: 138****8000 for a mobile, 010-****1234 for a landline."""
    number = _parsed(e164)
    if number is not None and not is_mobile(e164):
        area = national_phone(e164).partition("-")[0]
        return f"{area}-****{e164[-4:]}"
    digits = e164.removeprefix("+86")
    if len(digits) < 7:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"
