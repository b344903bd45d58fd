"""``yingdu ledger policy [--load FILE]`` and ``yingdu ledger cosign`` (see ``ledger.witnessing``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, OutputWrapper
from django.utils.translation import gettext as _

from ledger import witnessing
from witness.notes import FormatError


def run(verb: str, options: dict[str, Any], out: OutputWrapper) -> None:
    if verb == "policy":
        if options.get("load"):
            try:
                text = Path(options["load"]).read_text(encoding="utf-8")
                witnessing.load_policy(text, actor=None, actor_repr="cli")
            except (OSError, UnicodeDecodeError, FormatError) as exc:
                raise CommandError(_("见证策略无法载入：%(error)s") % {"error": exc}) from None
        out.write(witnessing.policy_text(), ending="")
        return
    from ledger.actions import sign_checkpoint

    sign_checkpoint()
    for s in witnessing.collect_cosignatures():
        out.write(f"{s.witness} {s.status} {s.detail}".rstrip())
    out.write(witnessing.report_text())
