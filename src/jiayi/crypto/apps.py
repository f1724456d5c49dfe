from django.apps import AppConfig


class CryptoConfig(AppConfig):
    """Encrypted model fields, the key ring and the key-rotation command (`jiayi crypto`)."""

    name = "jiayi.crypto"
    label = "crypto"
    verbose_name = "加密 Encryption at rest"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from jiayi.crypto.keys import forget_keyring

        setting_changed.connect(forget_keyring, dispatch_uid="jiayi-crypto-keyring")
