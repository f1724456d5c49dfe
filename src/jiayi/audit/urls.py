from django.urls import path

from jiayi.audit import views

app_name = "audit"

urlpatterns = [
    path("me/access-log/", views.my_access_log, name="my_access_log"),
    path("me/download/", views.my_data_download, name="my_data_download"),
    path("residents/<int:pk>/access-log/", views.resident_access_log, name="resident_access_log"),
    path("break-glass/", views.break_glass, name="break_glass"),
    path("break-glass/<int:pk>/review/", views.review_break_glass, name="review_break_glass"),
]
