from django.apps import AppConfig


class EducationConfig(AppConfig):
    """Health education (健康教育): a content library, recommendations, deliveries and reads."""

    name = "jiayi.education"
    label = "education"
    verbose_name = "健康教育 Health education"
