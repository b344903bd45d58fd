"""Shared by the ``subsidy`` and ``calendar`` commands: read a batch CSV from a file or stdin."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def read_batch(path: str, handle_rows: Callable[[TextIO], None]) -> None:
    """Call ``handle_rows`` with the open CSV (``-`` is stdin); an unreadable file is a CommandError."""
    try:
        if path == "-":
            handle_rows(sys.stdin)
        else:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                handle_rows(handle)
    except OSError as exc:
        raise CommandError(_("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc.strerror}) from exc
