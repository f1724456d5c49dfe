from django.urls import path

from jiayi.signing import views

app_name = "signing"

urlpatterns = [
    path("", views.menu, name="panel"),
    path("online/", views.online, name="online"),
    path("counter/<int:pk>/", views.counter, name="counter"),
    path("centre/", views.centre, name="centre"),
    path("transfer/", views.transfer, name="transfer"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
]
