"""The inspector's page of the log: size and root, checkpoints, verification status, entry lookup."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User, current_user
from accounts.roles import Role
from core.pagination import paginate
from ledger import services
from ledger.models import Checkpoint, Entry, LogState, VerificationRun
from ledger.verification import run_verification

PAGE_ROLES = (Role.INSPECTOR, Role.AUDITADMIN)


def _inspector(request: HttpRequest) -> User:
    user = current_user(request)
    if not user.has_role(*PAGE_ROLES):
        raise PermissionDenied
    return user


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode()


def _lookup(raw: str, size: int) -> dict[str, Any]:
    """The entry at ``raw`` (an index typed by the inspector) with its proof against the latest checkpoint."""
    try:
        index = int(raw)
    except ValueError:
        return {"error": _("请输入整数序号")}
    if not 0 <= index < size:
        return {
            "error": _("序号 %(index)s 超出日志范围（0 至 %(last)s）") % {"index": index, "last": size - 1}
        }
    row = Entry.objects.only("leaf_index", "kind", "enterprise_id", "provider_id").get(leaf_index=index)
    data = services.entry(index)
    try:
        text = json.dumps(json.loads(data), ensure_ascii=False, indent=2)
    except ValueError:
        text = ""
    checkpoint = services.latest_checkpoint_row()
    proof = services.inclusion_proof(index, checkpoint.tree_size) if index < checkpoint.tree_size else None
    return {
        "index": index,
        "row": row,
        "text": text,
        "entry_b64": _b64(data),
        "leaf_hash": _b64(services.leaf_hash(index)),
        "checkpoint": checkpoint,
        "proof": [_b64(p) for p in proof] if proof is not None else None,
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _inspector(request)
    state = LogState.objects.filter(pk=1).first()
    size = state.size if state is not None else 0
    checkpoints = paginate(
        request,
        Checkpoint.objects.only("tree_size", "root_hash", "key_hash", "created_at").order_by(
            "-tree_size", "-id"
        ),
        20,
    )
    context: dict[str, Any] = {
        "state": state,
        "size": size,
        "root": _b64(state.root_hash) if state is not None else _b64(services.root_at(0)),
        "hash_alg": state.hash_alg if state is not None else services.hash_alg(),
        "verifier_key": services.verifier_key(),
        "checkpoints": checkpoints,
        "checkpoint_rows": [(c, _b64(c.root_hash)) for c in checkpoints],
        "last_run": VerificationRun.objects.first(),
        "lookup": _lookup(request.GET["index"], size) if request.GET.get("index") else None,
    }
    return render(request, "ledger/index.html", context)


@login_required
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    user = _inspector(request)
    run = run_verification(actor=user, request=request)
    if run.ok:
        messages.success(request, _("校验通过：日志完整。"))
    else:
        messages.error(request, _("校验未通过：发现 %(n)s 个问题。") % {"n": len(run.problems)})
    return redirect("ledger:index")
