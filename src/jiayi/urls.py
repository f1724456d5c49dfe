from django.conf.urls.i18n import i18n_patterns  # noqa: F401  (kept for deployments that prefix URLs)
from django.contrib import admin
from django.urls import include, path

from jiayi.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("surveillance/", include("jiayi.surveillance.urls")),
    path("signing/", include("jiayi.signing.urls")),
    path("", include("jiayi.records.urls")),
    path("audit/", include("jiayi.audit.urls")),
    path("planning/", include("jiayi.planning.urls")),
    path("care/", include("jiayi.care.urls")),
    path("", include("jiayi.points.urls")),
    path("", include("jiayi.education.urls")),
    path("", include("jiayi.feedback.urls")),
    path("referrals/", include("jiayi.referrals.urls")),
    path("indicators/", include("jiayi.indicators.urls")),
    path("reports/", include("jiayi.reports.urls")),
    path("accounts/", include("jiayi.accounts.urls")),
    path("", include("jiayi.web.urls")),
]
