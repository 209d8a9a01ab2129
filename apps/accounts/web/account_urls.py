"""/account/: the signed-in user's preferences, calendar feed and webhooks."""

from django.urls import path

from apps.accounts.web import account

app_name = "account"

urlpatterns = [
    path("", account.account, name="index"),
    path("calendar/reset/", account.calendar_reset, name="calendar-reset"),
    path("webhooks/", account.endpoint_create, name="webhook-create"),
    path("webhooks/<int:pk>/toggle/", account.endpoint_toggle, name="webhook-toggle"),
    path("webhooks/<int:pk>/delete/", account.endpoint_delete, name="webhook-delete"),
    path("webhooks/<int:pk>/deliveries/", account.endpoint_deliveries, name="deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/retry/",
        account.delivery_retry,
        name="delivery-retry",
    ),
]
