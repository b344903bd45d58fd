from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CLASSES = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"), re.compile(r"[^A-Za-z0-9]"))


class CharacterClassValidator:
    """等保 2.0 口令复杂度: at least N of lower case, upper case, digits and symbols (N configurable)."""

    def __init__(self, min_classes: int | None = None) -> None:
        self.min_classes = min_classes or settings.PASSWORD_MIN_CLASSES

    def validate(self, password: str, user: Any = None) -> None:
        count = sum(1 for pattern in CLASSES if pattern.search(password))
        if count < self.min_classes:
            raise ValidationError(
                _("密码须包含大写字母、小写字母、数字、符号中的至少 %(n)d 类。") % {"n": self.min_classes},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("密码须包含大写字母、小写字母、数字、符号中的至少 %(n)d 类。") % {"n": self.min_classes}
