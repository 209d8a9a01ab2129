"""ASGI entry point served by `daphne -b 0.0.0.0 -p 8000 core.asgi:application` (and runserver).

HTTP goes to Django; WebSockets to the events consumers, with the Origin checked against
ALLOWED_HOSTS, the session user in `scope["user"]`, and inbound frames limited per socket. A
WebSocket to any other path is refused at the handshake (HTTP 403), never a 500.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
# Django must be set up before the consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import (  # noqa: E402
    AllowedHostsOriginValidator,
    WebsocketDenier,
)
from django.urls import re_path  # noqa: E402

from apps.events.routing import websocket_urlpatterns  # noqa: E402
from core.socket_limits import InboundFrameLimit  # noqa: E402

websocket_routes = [*websocket_urlpatterns, re_path(r"", WebsocketDenier.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(InboundFrameLimit(URLRouter(websocket_routes)))
        ),
    }
)
