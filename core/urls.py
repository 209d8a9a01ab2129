from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("apps.events.web.urls")),
    path("admin/", admin.site.urls),
]
