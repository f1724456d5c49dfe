"""The REST API: one NinjaAPI with a router per domain app, OpenAPI at /api/openapi.json."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="jiayi API",
    version="1",
    description="家医 jiayi: registry, health accounts, signing, care, referrals, indicators, surveillance.",
    urls_namespace="api",
)
