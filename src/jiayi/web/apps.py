from django.apps import AppConfig


class WebConfig(AppConfig):
    """Server-rendered pages (htmx) for every role."""

    name = "jiayi.web"
    label = "web"
    verbose_name = "网页 Web"
