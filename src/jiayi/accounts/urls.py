from django.urls import path

from jiayi.accounts import views

app_name = "accounts"

urlpatterns = [
    path("2fa/", views.setup, name="setup"),
    path("2fa/verify/", views.verify, name="verify"),
    path("2fa/recovery-codes/", views.recovery_codes, name="recovery_codes"),
]
