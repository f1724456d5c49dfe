from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Staff sign-in hardening: TOTP second factor (双因素认证) and recovery codes."""

    name = "jiayi.accounts"
    label = "accounts"
    verbose_name = "账户安全 Account security"

    def ready(self) -> None:
        from jiayi.accounts import signals  # noqa: F401  (connects the sign-in receiver)
