from django.urls import path

from jiayi.surveillance import views

app_name = "surveillance"

urlpatterns = [
    path("", views.index, name="index"),
    path("map.json", views.map_data, name="map"),
    path("series.json", views.series_data, name="series"),
    path("alerts/<int:pk>/transition/", views.alert_transition, name="alert_transition"),
]
