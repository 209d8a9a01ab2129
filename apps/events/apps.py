from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.events"
    label = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from celery.signals import after_task_publish, beat_init

        from core import heartbeat

        # Only beat's process records ticks (the handlers check); web and worker ignore them.
        beat_init.connect(heartbeat.on_beat_init, weak=False)
        after_task_publish.connect(heartbeat.on_task_published, weak=False)
