"""Pages of compute monitoring: the provider portal and the staff overview of providers.

Provider users see only their own provider (nodes, tokens, batches, rejections); 监管稽查
and 系统管理员 see all providers and approve or suspend them. Everything else gets 403.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.roles import Role
from enterprises.models import Provider
from ledger.witnessing import witnessed_size
from monitoring import actions
from monitoring.forms import NodeForm, ProviderRegistrationForm, ProviderStatusForm, TokenForm
from monitoring.models import ApiToken, Node, RejectedRecord, UsageBatch, UsageRecord

STAFF = (Role.INSPECTOR, Role.SYSADMIN)


def request_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def own_provider(request: HttpRequest) -> Provider:
    """The provider of a provider user; anyone else gets 403."""
    user = request_user(request)
    if not user.has_role(Role.PROVIDER) or user.provider_id is None:
        raise PermissionDenied
    assert user.provider is not None
    return user.provider


def _require_staff(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.has_role(*STAFF):
        raise PermissionDenied
    return user


def _provider_context(provider: Provider) -> dict[str, Any]:
    since = timezone.now() - timedelta(days=30)
    totals = UsageRecord.objects.filter(provider=provider, started_at__gte=since).aggregate(
        records=Count("id"), gpu_seconds=Sum("gpu_seconds"), energy_wh=Sum("energy_wh")
    )
    return {
        "provider": provider,
        "nodes": Node.objects.filter(provider=provider).order_by("node_id"),
        "tokens": ApiToken.objects.filter(provider=provider).order_by("-created_at")[:50],
        "batches": UsageBatch.objects.filter(provider=provider).order_by("-received_at", "-id")[:20],
        "rejections": RejectedRecord.objects.filter(batch__provider=provider)
        .select_related("batch")
        .order_by("-id")[:50],
        "gpu_hours_30d": (totals["gpu_seconds"] or 0) / 3600,
        "energy_kwh_30d": (totals["energy_wh"] or 0) / 1000,
        "records_30d": totals["records"],
        # The offline proofs (ledger.proofs) of the latest accepted records.
        "proof_panel": {
            "usage": UsageRecord.objects.filter(provider=provider).order_by("-leaf_index")[:20],
            "witnessed_size": witnessed_size(),
        },
    }


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """算力提供方注册 (self-service); the provider stays pending until staff approve it."""
    form = ProviderRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _provider, user = actions.register_provider(
            data, username=data["username"], password=data["password1"], request=request
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("注册成功。请登记节点公钥；区文促中心批准后即可上报算力使用记录。"))
        return redirect("monitoring:portal")
    return render(request, "monitoring/register.html", {"form": form})


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    """The provider's own page: nodes and keys, tokens, recent batches and rejected records."""
    user = request_user(request)
    if not user.has_role(Role.PROVIDER) and user.has_role(*STAFF):
        return redirect("monitoring:providers")
    provider = own_provider(request)
    context = _provider_context(provider) | {
        "node_form": NodeForm(),
        "token_form": TokenForm(),
        "can_edit": True,
    }
    return render(request, "monitoring/portal.html", context)


@login_required
@require_POST
def node_add(request: HttpRequest) -> HttpResponse:
    provider = own_provider(request)
    form = NodeForm(request.POST)
    if form.is_valid():
        actions.register_node(
            provider,
            form.cleaned_data["node_id"],
            form.cleaned_data["public_key"],
            actor=request_user(request),
            request=request,
        )
        messages.success(request, _("已登记节点 %(node)s。") % {"node": form.cleaned_data["node_id"]})
        return redirect("monitoring:portal")
    context = _provider_context(provider) | {"node_form": form, "token_form": TokenForm(), "can_edit": True}
    return render(request, "monitoring/portal.html", context, status=400)


@login_required
@require_POST
def node_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    provider = own_provider(request)
    node = get_object_or_404(Node, pk=pk, provider=provider)
    actions.set_node_active(node, not node.active, actor=request_user(request), request=request)
    return redirect("monitoring:portal")


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Issue a token and show it in this response only: it is not stored anywhere in clear."""
    provider = own_provider(request)
    form = TokenForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    _token, raw = actions.issue_token(provider, actor=request_user(request), name=name, request=request)
    context = _provider_context(provider) | {
        "node_form": NodeForm(),
        "token_form": TokenForm(),
        "can_edit": True,
        "new_token": raw,
    }
    response = render(request, "monitoring/portal.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    provider = own_provider(request)
    token = get_object_or_404(ApiToken, pk=pk, provider=provider)
    actions.revoke_token(token, actor=request_user(request), request=request)
    messages.success(request, _("令牌 %(prefix)s… 已吊销。") % {"prefix": token.prefix})
    return redirect("monitoring:portal")


@login_required
def providers(request: HttpRequest) -> HttpResponse:
    """Staff overview: every provider with its status and reporting, plus the last day of ingestion."""
    _require_staff(request)
    since = timezone.now() - timedelta(hours=24)
    rows = Provider.objects.annotate(
        node_count=Count("nodes", distinct=True),
        batch_count=Count("batches", distinct=True),
        last_batch=Max("batches__received_at"),
    ).order_by("status", "name")
    day = UsageBatch.objects.filter(received_at__gte=since).aggregate(
        batches=Count("id"),
        accepted=Sum("accepted"),
        duplicate=Sum("duplicate"),
        rejected=Sum("rejected"),
        unsigned=Count("id", filter=Q(signed=False)),
    )
    return render(
        request,
        "monitoring/providers.html",
        {
            "rows": rows,
            "day": day,
            "total_records": UsageRecord.objects.count(),
            "rejections": RejectedRecord.objects.select_related("batch__provider").order_by("-id")[:20],
            "status_form": ProviderStatusForm(),
        },
    )


@login_required
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff(request)
    provider = get_object_or_404(Provider, pk=pk)
    return render(
        request,
        "monitoring/portal.html",
        _provider_context(provider) | {"can_edit": False, "staff_view": True},
    )


@login_required
@require_POST
def provider_status(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_staff(request)
    provider = get_object_or_404(Provider, pk=pk)
    form = ProviderStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("无效的操作"))
        return redirect("monitoring:providers")
    actions.set_provider_status(provider, form.cleaned_data["status"], actor=user, request=request)
    messages.success(
        request,
        _("已将“%(name)s”设为%(status)s。")
        % {"name": provider.name, "status": provider.get_status_display()},
    )
    return redirect("monitoring:providers")
