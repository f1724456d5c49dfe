from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    """Indicators (绩效指标): declarations, the per-resident fact table kept current, engines, boards."""

    name = "jiayi.indicators"
    label = "indicators"
    verbose_name = "指标 Indicators"

    def ready(self) -> None:
        # Connects the receivers that keep the fact table current in the writer's transaction.
        from jiayi.indicators import hooks

        hooks.connect()
