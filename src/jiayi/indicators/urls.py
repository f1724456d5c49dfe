from django.urls import path

from jiayi.indicators import views

app_name = "indicators"

urlpatterns = [
    path("", views.index, name="index"),
    path("ranking.json", views.ranking_data, name="ranking"),
    path("trend.json", views.trend_data, name="trend"),
    path("map.json", views.map_data, name="map"),
    path("residents/", views.residents, name="residents"),
    path("export.xlsx", views.export_xlsx, name="export"),
]
