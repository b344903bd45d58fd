"""Compute monitoring actions: providers, tokens, nodes, and usage files (docs/monitoring.md).

Usage ingestion itself, ``record_usage_batch``, lives in ``monitoring.ingest`` and is
re-exported here.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
from datetime import timedelta
from decimal import InvalidOperation
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from agent.signing import KeyFileError, load_public_key, verify_bytes
from core.filetypes import TABLE_MAX_ROWS
from core.refusals import Refused
from core.transactions import batch, durable
from enterprises.models import Provider
from ledger.actions import record_event
from monitoring.ingest import BatchResult, cached_public_key, record_usage_batch
from monitoring.models import ApiToken, Node, UsageBatch

TOKEN_PREFIX = "ydp_"  # noqa: S105 - a public marker, lets scanners spot leaked tokens


class ProviderError(Refused, ValueError):
    """A provider, token or node operation that cannot be done; the message is Chinese."""

    status = 400
    code = "invalid"


# --------------------------------------------------------------------------------------------
# Providers, tokens, nodes


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@batch()
def create_provider(
    name: str, *, actor: User | None, approved: bool = True, request: HttpRequest | None = None
) -> tuple[Provider, str]:
    """Register a provider (approved when created by an administrator) and issue its first token."""
    name = name.strip()
    if not name:
        raise ProviderError(_("请填写算力提供方名称"))
    if Provider.objects.filter(name=name).exists():
        raise ProviderError(_("算力提供方“%(name)s”已存在") % {"name": name})
    status = Provider.Status.APPROVED if approved else Provider.Status.PENDING
    provider = Provider.objects.create(name=name, status=status)
    record_event(
        "provider.create", actor=actor, obj=provider, after={"name": name, "status": status}, request=request
    )
    _token, raw = issue_token(provider, actor=actor, name=_("初始令牌"), request=request)
    return provider, raw


@durable()
def register_provider(
    data: dict[str, Any], *, username: str, password: str, request: HttpRequest | None = None
) -> tuple[Provider, User]:
    """Self-service registration: a pending provider and its first operator (role ``provider``).

    The provider may register nodes and create tokens at once, but the API refuses its
    usage records until 监管稽查 or 系统管理员 approve it (``set_provider_status``).
    """
    from accounts.actions import create_user_with_role
    from accounts.roles import Role

    provider = Provider.objects.create(
        name=data["name"],
        uscc=data["uscc"],
        contact_name=data["contact_name"],
        contact_phone=data["contact_phone"],
        contact_email=data["contact_email"],
        status=Provider.Status.PENDING,
    )
    user = create_user_with_role(
        username,
        password,
        Role.PROVIDER,
        email=data["contact_email"],
        display_name=data["contact_name"],
        phone=data["contact_phone"],
        provider=provider,
    )
    record_event(
        "provider.register",
        actor=user,
        obj=provider,
        after={"name": provider.name, "uscc": provider.uscc},
        request=request,
    )
    return provider, user


@durable()
def issue_token(
    provider: Provider, *, actor: User | None, name: str = "", request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """A new API token; the raw value is returned once and only its SHA-256 is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        provider=provider,
        name=name[:100],
        prefix=raw[:12],
        token_hash=hash_token(raw),
        created_by=actor if actor is not None and actor.pk else None,
    )
    record_event(
        "provider.token_issue", actor=actor, obj=provider, after={"prefix": token.prefix}, request=request
    )
    return token, raw


@durable()
def revoke_token(token: ApiToken, *, actor: User | None, request: HttpRequest | None = None) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(
        "provider.token_revoke",
        actor=actor,
        obj=token.provider,
        after={"prefix": token.prefix},
        request=request,
    )


def authenticate_token(raw: str) -> ApiToken | None:
    """The live token with this value, with its provider; ``None`` for unknown or revoked tokens."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("provider")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # One write a minute at most: the agents of a cluster post every few seconds.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_provider_id(raw: str) -> int | None:
    """The provider a live token belongs to (how the ledger API lets a token read its provider's entries)."""
    token = authenticate_token(raw)
    return token.provider_id if token is not None else None


@durable()
def register_node(
    provider: Provider,
    node_id: str,
    public_key: str,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Node:
    """Register a GPU node with the public half of its Ed25519 key (``yingdu agent keygen`` prints it)."""
    node_id = node_id.strip()
    public_key = public_key.strip()
    if not node_id or len(node_id) > 64:
        raise ProviderError(_("节点标识须为1至64个字符"))
    try:
        load_public_key(public_key)
    except KeyFileError:
        raise ProviderError(_("公钥须为32字节Ed25519公钥的Base64编码")) from None
    if Node.objects.filter(node_id=node_id).exists():
        raise ProviderError(_("节点“%(node)s”已登记") % {"node": node_id})
    node = Node.objects.create(provider=provider, node_id=node_id, public_key=public_key)
    record_event(
        "provider.node_register",
        actor=actor,
        obj=provider,
        after={"node_id": node_id, "public_key": public_key},
        request=request,
    )
    return node


@durable()
def set_node_active(
    node: Node, active: bool, *, actor: User | None, request: HttpRequest | None = None
) -> None:
    if node.active == active:
        return
    node.active = active
    node.save(update_fields=["active"])
    record_event(
        "provider.node_enable" if active else "provider.node_disable",
        actor=actor,
        obj=node.provider,
        after={"node_id": node.node_id},
        request=request,
    )


@durable()
def set_provider_status(
    provider: Provider, status: str, *, actor: User, request: HttpRequest | None = None
) -> None:
    """Approve or suspend a provider (监管稽查 or 系统管理员); only approved providers may report usage."""
    if status not in Provider.Status.values:
        raise ProviderError(_("无效的状态"))
    before = provider.status
    if before == status:
        return
    provider.status = status
    provider.save(update_fields=["status"])
    record_event(
        "provider.status",
        actor=actor,
        obj=provider,
        before={"status": before},
        after={"status": status},
        request=request,
    )


# --------------------------------------------------------------------------------------------
# Uploads


def file_signed_by_provider(provider: Provider, data: bytes, signature_b64: str) -> Node | None:
    """The provider's active node whose key made this detached signature over the file, if any."""
    for node in Node.objects.filter(provider=provider, active=True):
        try:
            if verify_bytes(data, signature_b64, cached_public_key(node.public_key)):
                return node
        except KeyFileError:
            continue
    return None


def import_usage_file(
    provider: Provider,
    data: bytes,
    *,
    actor: User | None,
    actor_repr: str = "",
    signature_b64: str | None = None,
    fmt: str = "auto",
    defaults: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> BatchResult:
    """Import a CSV (docs/monitoring.md columns) or ``sacct --parsable2`` file through the same checks as the API.

    With a detached signature by one of the provider's node keys over the exact file
    bytes, the records count as signed; without one they are stored flagged as unsigned.
    A signature that does not verify refuses the whole file.
    """
    from monitoring import importers

    if data.count(b"\n") + 1 > TABLE_MAX_ROWS:
        raise ProviderError(_("文件超过%(n)d行，请分成多个文件导入") % {"n": TABLE_MAX_ROWS})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProviderError(_("文件不是UTF-8编码的文本，请以UTF-8另存后再导入")) from None
    try:
        upload = importers.read_upload(text, provider_id=provider.pk, fmt=fmt, defaults=defaults)
    except csv.Error:
        raise ProviderError(_("文件不是有效的CSV，请检查引号和分隔符")) from None
    except InvalidOperation:
        raise ProviderError(_("每卡时单价须为金额，如 12.50")) from None
    except ValueError:
        raise ProviderError(_("无法识别的文件格式：%(fmt)s") % {"fmt": fmt}) from None
    source = UsageBatch.Source.SACCT if upload.source == "sacct" else UsageBatch.Source.CSV
    signed = False
    if signature_b64:
        if file_signed_by_provider(provider, data, signature_b64) is None:
            raise ProviderError(_("文件签名无效：不是本算力提供方任一启用节点的密钥所签"))
        signed = True
    return record_usage_batch(
        provider,
        upload.records,
        actor_repr=actor_repr or (actor.username if actor is not None else "cli"),
        source=source,
        actor=actor,
        signed_upload=signed,
        file_sha256=hashlib.sha256(data).hexdigest(),
        lines=upload.lines,
        request=request,
    )
