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
    path("", include("jiayi.web.urls")),
]
