"""A password holding the user name is refused; an idle timeout that is not whole minutes is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from accounts.models import User
from accounts.system_checks import idle_timeout_is_whole_minutes


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password", ["zhangsan#2026Yd", "ZhangSan-Huairou-99", "Yd!2026zhangsan", "Yd!2026Lisi.Work"]
)
def test_a_password_made_of_the_user_name_or_mailbox_name_plus_a_suffix_is_refused(password: str) -> None:
    user = User(username="zhangsan", email="lisi.work@example.cn")
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user)
    assert "用户名或邮箱名" in " ".join(caught.value.messages)


@pytest.mark.django_db
def test_a_password_without_the_user_name_is_accepted() -> None:
    validate_password("Yd-Huairou#2026", User(username="zhangsan", email="zs@example.cn"))


@pytest.mark.parametrize("seconds", [0, 30, 59, 90])
def test_an_idle_timeout_that_is_not_whole_minutes_is_refused_by_a_system_check(seconds: int) -> None:
    with override_settings(SESSION_IDLE_TIMEOUT_SECONDS=seconds):
        (error,) = idle_timeout_is_whole_minutes()
        assert error.id == "accounts.E001"
        with pytest.raises(SystemCheckError, match="accounts.E001"):
            call_command("check")


@pytest.mark.parametrize("seconds", [60, 1800])
def test_an_idle_timeout_of_whole_minutes_passes_the_check(seconds: int) -> None:
    with override_settings(SESSION_IDLE_TIMEOUT_SECONDS=seconds):
        assert idle_timeout_is_whole_minutes() == []
