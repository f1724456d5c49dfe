from django.apps import AppConfig


class PlanningConfig(AppConfig):
    """District planning (区域规划): the street health portrait and 15-minute access to primary care."""

    name = "jiayi.planning"
    label = "planning"
    verbose_name = "规划 Planning"
