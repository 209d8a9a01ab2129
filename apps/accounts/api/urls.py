"""/api/auth/, mounted by core/urls.py before the events API (whose catch-all answers 404)."""

from django.urls import path

from apps.accounts.api.views import (
    CalendarResetView,
    LogoutView,
    MeView,
    RegisterView,
    TokenView,
)

urlpatterns = [
    path("register/", RegisterView.as_view(), name="api-register"),
    path("token/", TokenView.as_view(), name="api-token"),
    path("logout/", LogoutView.as_view(), name="api-logout"),
    path("me/", MeView.as_view(), name="api-me"),
    path("me/calendar/reset/", CalendarResetView.as_view(), name="api-calendar-reset"),
]
