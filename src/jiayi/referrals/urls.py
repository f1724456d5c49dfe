from django.urls import path

from jiayi.referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.index, name="index"),
    path("desk/", views.desk, name="desk"),
    path("slots/", views.slots, name="slots"),
    path("new/<int:pk>/", views.new, name="new"),
    path("files/<int:pk>/", views.download, name="file"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
]
