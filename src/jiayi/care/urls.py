from django.urls import path

from jiayi.care import views

app_name = "care"

urlpatterns = [
    path("", views.index, name="index"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/outbox/", views.outbox, name="outbox"),
    path("follow-ups/<int:pk>/", views.follow_up, name="follow_up"),
    path("follow-ups/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("residents/<int:pk>/", views.resident_care, name="resident"),
    path("residents/<int:pk>/assessment/", views.assessment, name="assessment"),
    path("residents/<int:pk>/enrol/", views.enrol, name="enrol"),
    path("residents/<int:pk>/contact/", views.contact, name="contact"),
    path("residents/<int:pk>/reports/<int:year>.pdf", views.resident_report, name="resident_report"),
    path("reports/", views.report_batches, name="report_batches"),
    path("me/", views.me, name="me"),
    path("me/reports/<int:year>.pdf", views.my_report, name="my_report"),
]
