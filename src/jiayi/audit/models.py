"""Audit entries: who did what to whose personal data, when, from where, and with what outcome."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    READ = "read", "查看 Read"
    SEARCH = "search", "检索 Search"
    CREATE = "create", "新增 Create"
    UPDATE = "update", "修改 Update"
    DELETE = "delete", "删除 Delete"
    EXPORT = "export", "导出 Export"
    REVEAL = "reveal", "查看明文 Reveal"
    LOGIN = "login", "登录 Login"
    LOGIN_FAILED = "login_failed", "登录失败 Failed login"
    LOCKOUT = "lockout", "锁定 Lockout"
    GENERATE = "generate", "生成 Generate"
    BREAK_GLASS = "break_glass", "紧急访问 Break-glass"
    REVIEW = "review", "复核 Review"


class Outcome(models.TextChoices):
    OK = "ok", "成功 OK"
    DENIED = "denied", "拒绝 Denied"
    INVALID = "invalid", "无效 Invalid"


class AuditEntry(models.Model):
    """One audited event. Rows are only ever appended; each carries the hash of the one before it."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=24, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OK)
    resource_type = models.CharField(max_length=48)
    resource_id = models.CharField(max_length=64, blank=True)
    resident_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    purpose = models.CharField(max_length=200, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.resource_type} {self.resource_id} by {self.actor_name}"

    def chained_fields(self) -> dict[str, Any]:
        """The fields the hash covers, in a form that survives a database round trip."""
        return {
            "at": self.at.isoformat(timespec="microseconds"),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "actor_role": self.actor_role,
            "action": self.action,
            "outcome": self.outcome,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resident_id": self.resident_id,
            "purpose": self.purpose,
            "ip": self.ip,
            "detail": self.detail,
        }


class Review(models.TextChoices):
    PENDING = "pending", "待复核 Pending"
    APPROVED = "approved", "已认可 Approved"
    FLAGGED = "flagged", "已标记 Flagged"


class BreakGlass(models.Model):
    """A clinician's time-boxed access (紧急访问) to one resident's health account outside their scope,
    with the reason they gave; the resident's centre manager reviews every one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    review = models.CharField(max_length=8, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"]), models.Index(fields=["review", "started_at"])]

    def __str__(self) -> str:
        return f"break-glass #{self.pk} by {self.user_id} on resident {self.resident_id}"
