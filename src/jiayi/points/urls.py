from django.urls import path

from jiayi.points import views

app_name = "points"

urlpatterns = [
    path("points/", views.hub, name="hub"),
    path("me/points/", views.me, name="me"),
    path("me/points/redeem/", views.redeem, name="redeem"),
    path("points/catalogue/", views.catalogue, name="catalogue"),
    path("points/catalogue/<int:pk>/", views.edit_item, name="item"),
]
