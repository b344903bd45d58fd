from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.security import current_policy

CLASSES = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"), re.compile(r"[^A-Za-z0-9]"))


class CharacterClassValidator:
    """等保 2.0 口令复杂度: at least N of lower case, upper case, digits and symbols.

    N is the security administrator's stored policy (``accounts.security``) unless given here;
    Django keeps validator instances for the life of the process, so it is read on each use.
    """

    def __init__(self, min_classes: int | None = None) -> None:
        self._min_classes = min_classes

    @property
    def min_classes(self) -> int:
        return self._min_classes or current_policy().password_min_classes

    def validate(self, password: str, user: Any = None) -> None:
        count = sum(1 for pattern in CLASSES if pattern.search(password))
        n = self.min_classes
        if count < n:
            raise ValidationError(
                _("密码须包含大写字母、小写字母、数字、符号中的至少 %(n)d 类。") % {"n": n},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("密码须包含大写字母、小写字母、数字、符号中的至少 %(n)d 类。") % {"n": self.min_classes}


class PolicyMinimumLengthValidator:
    """The minimum password length of the stored security policy."""

    def validate(self, password: str, user: Any = None) -> None:
        n = current_policy().password_min_length
        if len(password) < n:
            raise ValidationError(
                _("密码太短，至少需要 %(n)d 个字符。") % {"n": n}, code="password_too_short"
            )

    def get_help_text(self) -> str:
        return _("密码至少需要 %(n)d 个字符。") % {"n": current_policy().password_min_length}


class UserNameValidator:
    """A password may not contain the user's name, in any letter case (``zhangsan2026!``), nor the
    name of the mailbox; a guesser tries these first. Names shorter than four characters are not
    looked for: they would forbid too much."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None:
            return
        folded = password.casefold()
        names = [
            str(getattr(user, "username", "") or ""),
            str(getattr(user, "email", "") or "").partition("@")[0],
        ]
        for name in names:
            if len(name) >= 4 and name.casefold() in folded:
                raise ValidationError(_("密码不能包含用户名或邮箱名。"), code="password_contains_username")

    def get_help_text(self) -> str:
        return _("密码不能包含用户名或邮箱名。")
