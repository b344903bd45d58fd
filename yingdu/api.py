"""The JSON API (django-ninja), mounted at /api/v1/; its OpenAPI schema is at /api/v1/openapi.json."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="影都算力补助平台 API",
    version="1.0",
    urls_namespace="api",
    description="企业申报、算力使用上报与不可篡改日志的接口。",
)

# Routers are registered by prefix; each app keeps its own in <app>/api.py.
ROUTERS = [
    ("/ledger/", "ledger.api"),
    ("/usage/", "monitoring.api"),
    ("/applications/", "applications.api"),
    ("/audits/", "audits.api"),
    ("/policy/", "policy.api"),
    ("/reports/", "reports.api"),
]

for prefix, module_name in ROUTERS:
    module = __import__(module_name, fromlist=["router"])
    api.add_router(prefix, module.router)
