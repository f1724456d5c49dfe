from django.urls import path

from jiayi.records import authorisation_views, review_views, views

app_name = "records"

urlpatterns = [
    path("records/<int:pk>/", views.account, name="account"),
    path("records/<int:pk>/series.json", views.series, name="series"),
    path("records/matches/", review_views.queue, name="review_queue"),
    path("me/health/", views.me, name="me"),
    path("me/health/series.json", views.my_series, name="my_series"),
    path("me/health/authorisations/", authorisation_views.authorisations, name="authorisations"),
]
