from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Append-only, hash-chained log of every read and write of personal data (全程可追溯)."""

    name = "jiayi.audit"
    label = "audit"
    verbose_name = "审计 Audit"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        # Imported for their registrations: the retention system check and the login receivers.
        from jiayi.audit import checks  # noqa: F401
        from jiayi.audit.immutability import register_sqlite_function
        from jiayi.web import auth  # noqa: F401

        connection_created.connect(register_sqlite_function, dispatch_uid="jiayi-audit-sqlite-flag")
