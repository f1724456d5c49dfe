from django.apps import AppConfig


class SigningConfig(AppConfig):
    """Family-doctor signing (家庭医生签约): "1+1+1" signings, service packages, consent, panels."""

    name = "jiayi.signing"
    label = "signing"
    verbose_name = "签约 Signing"
