"""System checks of the account settings (run by ``yingdu check`` and every management command)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def idle_timeout_is_whole_minutes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The idle timeout is kept in whole minutes (the security policy's unit): a setting that is
    not one, or is under a minute, is refused rather than silently rounded."""
    value = settings.SESSION_IDLE_TIMEOUT_SECONDS
    if isinstance(value, int) and value >= 60 and value % 60 == 0:
        return []
    return [
        Error(
            f"SESSION_IDLE_TIMEOUT_SECONDS={value!r}: the idle timeout must be a whole number of minutes, "
            "at least 60 seconds",
            hint="Set SESSION_IDLE_TIMEOUT_SECONDS to 60, 120, … (the default is 1800).",
            id="accounts.E001",
        )
    ]
