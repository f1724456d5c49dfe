from django.urls import path

from jiayi.feedback import views

app_name = "feedback"

urlpatterns = [
    path("me/feedback/", views.me, name="me"),
    path("feedback/", views.centre, name="centre"),
    path("feedback/complaints/<int:pk>/", views.complaint, name="complaint"),
    path("feedback/complaints/<int:pk>/transition/", views.transition, name="transition"),
]
