from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """People, households, places, institutions, staff and teams of a district."""

    name = "jiayi.registry"
    label = "registry"
    verbose_name = "登记 Registry"
