from django.urls import path

from jiayi.planning import views

app_name = "planning"

urlpatterns = [
    path("portrait/", views.portrait_page, name="portrait"),
    path("portrait/map.json", views.portrait_map, name="portrait_map"),
    path("access/", views.access_page, name="access"),
    path("access/map.json", views.access_map, name="access_map"),
]
