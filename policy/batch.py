"""Shared by the ``subsidy`` and ``calendar`` commands: read a batch CSV and write its results."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError
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


def write_batch(
    command: BaseCommand,
    header: Sequence[str],
    rows: list[dict[str, Any]],
    output: Sequence[str],
    failed: int,
) -> None:
    """The input columns, then ``output`` (recomputed if the input had them), then ``error`` when a
    row failed; the count of failed rows goes to stderr and the exit status stays 0."""
    columns = [name for name in header if name not in (*output, "error")] + list(output)
    if failed:
        columns.append("error")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    command.stdout.write(buffer.getvalue(), ending="")
    if failed:
        command.stderr.write(
            _("%(failed)s 行有错误，见 error 列；其余 %(ok)s 行已计算")
            % {"failed": failed, "ok": len(rows) - failed}
        )
