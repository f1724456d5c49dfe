from django.urls import path

from jiayi.education import views

app_name = "education"

urlpatterns = [
    path("me/education/", views.me, name="me"),
    path("me/education/<int:pk>/", views.article, name="article"),
    path("education/library/", views.library, name="library"),
    path("education/library/<int:pk>/", views.edit_article, name="edit"),
]
