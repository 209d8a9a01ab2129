"""WebSocket routes (CONTRACT §5), mounted by `core.asgi`."""

from django.urls import path

from apps.events import consumers

websocket_urlpatterns = [
    path("ws/events/", consumers.PublicEventsConsumer.as_asgi()),
    path("ws/events/<int:event_id>/", consumers.EventConsumer.as_asgi()),
]
