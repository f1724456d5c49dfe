from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Append-only, hash-chained log of every read and write of personal data (全程可追溯)."""

    name = "jiayi.audit"
    label = "audit"
    verbose_name = "审计 Audit"
