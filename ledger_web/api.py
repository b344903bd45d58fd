"""The log's public API, mounted at /api/v1/ledger/ (docs/log.md; paths are fixed, third parties rely on them).

Checkpoints, the verifier key and proofs are public. An entry's bytes are shown to
inspectors and to the provider or enterprise the entry concerns (a provider also with its
API token); to anyone else the entry does not exist (404).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status

from accounts.roles import Role
from ledger import services
from ledger.models import Entry

router = Router(tags=["不可篡改日志"])


class InclusionProofOut(Schema):
    index: int
    tree_size: int
    root_hash: str
    inclusion_path: list[str]


class ConsistencyProofOut(Schema):
    old_size: int
    tree_size: int
    consistency_path: list[str]


class EntryOut(Schema):
    index: int
    entry: str
    leaf_hash: str


class ErrorOut(Schema):
    detail: str


def _text(body: str, cache: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = cache
    return response


@router.get("/checkpoint", summary="最新的签名检查点（C2SP signed note）")
def checkpoint(request: HttpRequest) -> HttpResponse:
    return _text(services.latest_checkpoint(), "no-cache")


@router.get("/key", summary="检查点验证公钥（signed-note verifier key）")
def key(request: HttpRequest) -> HttpResponse:
    return _text(services.verifier_key() + "\n", "public, max-age=3600")


@router.get("/policy", summary="见证策略（C2SP tlog-policy：日志公钥、见证方公钥与法定数）")
def policy(request: HttpRequest) -> HttpResponse:
    from ledger.witnessing import policy_text

    return _text(policy_text(), "no-cache")


@router.get(
    "/proof/inclusion",
    response={200: InclusionProofOut, 400: ErrorOut},
    summary="包含性证明（RFC 9162）",
)
def inclusion_proof(request: HttpRequest, index: int, tree_size: int) -> Status[dict[str, object]]:
    try:
        proof = services.inclusion_proof(index, tree_size)
        root = services.root_at(tree_size)
    except services.ProofError:
        return Status(400, {"detail": _("序号或树大小超出日志范围")})
    return Status(
        200,
        {
            "index": index,
            "tree_size": tree_size,
            "root_hash": services.b64(root),
            "inclusion_path": [services.b64(p) for p in proof],
        },
    )


@router.get(
    "/proof/consistency",
    response={200: ConsistencyProofOut, 400: ErrorOut},
    summary="一致性证明（RFC 9162）",
)
def consistency_proof(request: HttpRequest, old_size: int, tree_size: int) -> Status[dict[str, object]]:
    try:
        proof = services.consistency_proof(old_size, tree_size)
    except services.ProofError:
        return Status(400, {"detail": _("树大小超出日志范围")})
    return Status(
        200,
        {
            "old_size": old_size,
            "tree_size": tree_size,
            "consistency_path": [services.b64(p) for p in proof],
        },
    )


# Bearer-token resolvers: raw token → the provider it belongs to, or None (monitoring registers its own).
_token_providers: list[Callable[[str], int | None]] = []


def register_token_provider(resolver: Callable[[str], int | None]) -> None:
    """Let ``Authorization: Bearer <token>`` read the entries of the token's provider (an app's ``ready``)."""
    _token_providers.append(resolver)


def _token_provider_id(request: HttpRequest) -> int | None:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    for resolve in _token_providers:
        provider_id = resolve(token.strip())
        if provider_id is not None:
            return provider_id
    return None


def may_read(request: HttpRequest, row: Entry) -> bool:
    token_provider = _token_provider_id(request)
    if token_provider is not None:
        return row.provider_id is not None and row.provider_id == token_provider
    user = request.user
    if not user.is_authenticated:
        return False
    if user.has_role(Role.INSPECTOR):
        return True
    provider_id = getattr(user, "provider_id", None)
    enterprise_id = getattr(user, "enterprise_id", None)
    return (row.provider_id is not None and row.provider_id == provider_id) or (
        row.enterprise_id is not None and row.enterprise_id == enterprise_id
    )


@router.get(
    "/entries/{index}",
    response={200: EntryOut, 404: ErrorOut},
    summary="日志条目原文",
    description="稽查人员、条目涉及的企业或算力提供方可读；算力提供方也可用接口令牌（Authorization: Bearer）读取本方记录的条目。",
)
def entry(request: HttpRequest, index: int) -> Status[dict[str, object]]:
    not_found: Status[dict[str, object]] = Status(404, {"detail": _("条目不存在")})
    if not 0 <= index < 2**63:  # beyond any leaf index the database can hold
        return not_found
    row = Entry.objects.filter(leaf_index=index).only("leaf_index", "enterprise_id", "provider_id").first()
    if row is None or index >= services.tree_size() or not may_read(request, row):
        return not_found
    data = services.entry(index)
    return Status(
        200,
        {"index": index, "entry": services.b64(data), "leaf_hash": services.b64(services.leaf_hash(index))},
    )
