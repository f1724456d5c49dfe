from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """Health accounts: encounters, diagnoses, observations, medications, exams and school checks."""

    name = "jiayi.records"
    label = "records"
    verbose_name = "健康档案 Health accounts"
