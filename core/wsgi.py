import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
application = get_wsgi_application()

# The tasks the web enqueues by name (`events.wake_up`), as in core/asgi.py.
import apps.events.tasks  # noqa: E402, F401
