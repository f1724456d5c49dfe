"""Administrators change the earning rules here: rules are data, so points and caps change without code.
The ledger is not in the admin: entries are only ever appended by the services."""

from __future__ import annotations

from django.contrib import admin

from jiayi.points.models import CatalogueItem, PointRule


@admin.register(PointRule)
class PointRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "event_kind", "points", "daily_cap", "active")
    list_editable = ("points", "daily_cap", "active")
    readonly_fields = ("event_kind",)


@admin.register(CatalogueItem)
class CatalogueItemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "cost", "stock", "centre", "active")
    list_filter = ("active", "centre")
