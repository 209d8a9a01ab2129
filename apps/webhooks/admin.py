"""Admin for webhooks: endpoints (the secret never shown) and their delivery log, with a retry
that goes through `endpoints.retry`, as the API's does."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.webhooks import endpoints
from apps.webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "url", "owner", "is_active", "disabled_reason", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "owner__username")
    raw_id_fields = ("owner",)
    exclude = ("secret",)
    readonly_fields = ("created_at", "disabled_reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Created through the API, which checks the URL and shows the secret once.
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "endpoint", "type", "state", "attempts", "last_status_code")
    list_filter = ("state", "type")
    list_select_related = ("endpoint",)
    readonly_fields = [field.name for field in Delivery._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again now (same webhook-id)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            endpoints.retry(delivery)
        self.message_user(request, f"{queryset.count()} deliveries will be sent again now.")
