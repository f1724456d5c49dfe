from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "jiayi.referrals"
    label = "referrals"
    verbose_name = "Referrals and appointments"

    def ready(self) -> None:
        from jiayi.referrals import worklist

        worklist.register()
