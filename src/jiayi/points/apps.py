from django.apps import AppConfig


class PointsConfig(AppConfig):
    """Health points (健康积分): rules, an append-only ledger, a redemption catalogue."""

    name = "jiayi.points"
    label = "points"
    verbose_name = "健康积分 Health points"

    def ready(self) -> None:
        # Awards follow the source records: saving a complete 65+ exam or a self-measurement earns points.
        from jiayi.points import signals  # noqa: F401
