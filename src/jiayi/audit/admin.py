"""The audit log in Django's admin: read-only for everyone, superusers included.

Viewing needs the `audit.view_auditentry` permission on top of admin access, so reading the log can be
given to a security auditor without giving it to every administrator (separation of duties).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jiayi.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    list_display = (
        "id",
        "at",
        "actor_name",
        "actor_role",
        "action",
        "outcome",
        "resource_type",
        "resource_id",
        "resident_id",
        "ip",
    )
    list_filter = ("action", "outcome", "resource_type", "actor_role")
    search_fields = ("=actor_name", "=resource_id")
    date_hierarchy = "at"
    readonly_fields = tuple(field.name for field in AuditEntry._meta.get_fields() if field.concrete)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
