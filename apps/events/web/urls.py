"""The pages, mounted at the site root by core/urls.py."""

from django.urls import path

from apps.events.web import calendar_views, messages, views

app_name = "events"

urlpatterns = [
    path("", views.discovery, name="discovery"),
    path("events/mine/", views.my_events, name="mine"),
    path("events/new/", views.event_create, name="new"),
    path("events/<int:pk>/", views.event_detail, name="detail"),
    path("events/<int:pk>/edit/", views.event_edit, name="edit"),
    path("events/<int:pk>/join/", views.event_join, name="join"),
    path("events/<int:pk>/leave/", views.event_leave, name="leave"),
    path("events/<int:pk>/delete/", views.event_delete, name="delete"),
    path("calendars/<str:token>.ics", calendar_views.personal_feed, name="calendar-feed"),
    path("events/<int:pk>/messages/", messages.rules_page, name="messages"),
    path("events/<int:pk>/messages/<int:rule_id>/", messages.rule_edit, name="message_edit"),
    path(
        "events/<int:pk>/messages/<int:rule_id>/delete/",
        messages.rule_delete,
        name="message_delete",
    ),
    path("messages/unsubscribe/<str:token>/", messages.unsubscribe_view, name="unsubscribe"),
    *(
        path(f"events/<int:pk>/{action}/", views.event_transition, {"action": action}, name=action)
        for action in views.TRANSITIONS
    ),
]
