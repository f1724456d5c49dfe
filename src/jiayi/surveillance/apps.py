from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jiayi.surveillance"
    label = "surveillance"
    verbose_name = "Surveillance 传染病监测预警"
