from django.urls import path

from jiayi.audit import views

app_name = "audit"

urlpatterns = [
    path("me/access-log/", views.my_access_log, name="my_access_log"),
    path("residents/<int:pk>/access-log/", views.resident_access_log, name="resident_access_log"),
]
