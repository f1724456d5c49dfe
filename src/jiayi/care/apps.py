from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    """Health management (健康管理): assessments, chronic-disease programmes, contacts, worklists."""

    name = "jiayi.care"
    label = "care"
    # The same words as the menu entry (jiayi.web.context), so both are translated here.
    verbose_name = _("Health management")

    def ready(self) -> None:
        from jiayi.care import signals  # noqa: F401  (connects the exam-form receiver)
