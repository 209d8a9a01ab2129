"""Thin views: permissions and shapes here, rules in `selectors`, `lifecycle`, `participation`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from apps.events import calendars, editing, lifecycle, participation, selectors
from apps.events.api.filters import DiscoveryFilter, query_list
from apps.events.api.pagination import EventCursorPagination
from apps.events.api.permissions import IsOrganizer
from apps.events.api.schema import VALIDATION_ERROR_REF
from apps.events.api.serializers import (
    ErrorSerializer,
    EventSerializer,
    EventWriteSerializer,
    StatusChangeSerializer,
)
from apps.events.models import Event, EventStatusChange
from apps.events.web.calendar_views import ics_response
from core.users import signed_in

Status = Event.EventStatus


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation. A header or parameter the server cannot read (400,
    core.errors), a bad token (401), a session request without its CSRF token (403) and
    throttling (429) apply to all."""
    described = {
        400: OpenApiResponse(VALIDATION_ERROR_REF, description="Invalid input."),
        401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
        403: OpenApiResponse(
            ErrorSerializer, description="Not the organizer, or a session without its CSRF token."
        ),
        404: OpenApiResponse(ErrorSerializer, description="No such event visible to you."),
        409: OpenApiResponse(ErrorSerializer, description="The event's status does not allow it."),
        415: OpenApiResponse(ErrorSerializer, description="Body is not JSON."),
        429: OpenApiResponse(ErrorSerializer, description="Too many requests."),
    }
    return {code: described[code] for code in sorted({*codes, 400, 401, 403, 429})}


class StatusListField(serializers.Field):
    """`?status=` repeated or comma-separated (filters.split_list), each a known status."""

    def get_value(self, dictionary: Any) -> Any:
        values = query_list(dictionary, str(self.field_name))
        return serializers.empty if values is None else values

    def to_internal_value(self, data: list[str]) -> list[str]:
        statuses = [part.strip() for part in data if part.strip()]
        unknown = [part for part in statuses if part not in Status.values]
        if unknown:
            raise serializers.ValidationError(f"Unknown status: {', '.join(unknown)}.")
        return statuses


class MineQuerySerializer(serializers.Serializer):
    include_completed = serializers.BooleanField(default=True)
    status = StatusListField(required=False)
    role = serializers.ChoiceField(choices=["organizer", "participant"], required=False)


def status_parameter(statuses: list[str], description: str) -> OpenApiParameter:
    """A list of statuses as an exploded form array (`?status=A&status=B`); `A,B` works too."""
    return OpenApiParameter(
        "status",
        {"type": "array", "items": {"type": "string", "enum": statuses}},
        style="form",
        explode=True,
        description=f"Repeat the key for each status (commas also work). {description}",
    )


MINE_PARAMETERS = [
    OpenApiParameter("include_completed", bool, description="Default true."),
    status_parameter(Status.values, "ARCHIVED events appear only when asked for here."),
    OpenApiParameter("role", str, enum=["organizer", "participant"]),
]
DISCOVERY_PARAMETERS = [
    status_parameter(
        [str(s) for s in Event.ACTIVE_STATUSES], "Discovery holds CONFIRMED and ONGOING only."
    )
]

TRANSITION_RESPONSES = {200: EventSerializer, **errors(403, 404, 409)}
JOIN_RESPONSES = {200: EventSerializer, **errors(404, 409)}


class EventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EventSerializer
    pagination_class = EventCursorPagination
    filterset_class = DiscoveryFilter
    lookup_value_converter = "int"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    organizer_actions = frozenset({"partial_update", "destroy", "confirm", "cancel", "complete"})
    user_actions = frozenset({"create", "mine", "join", "leave"})
    # The actions that change one event (found first only to check the change is allowed).
    changing_actions = organizer_actions | {"join", "leave"}

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action in self.organizer_actions:
            return [permissions.IsAuthenticated(), IsOrganizer()]
        if self.action in self.user_actions:
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    def get_queryset(self) -> QuerySet[Event]:
        if self.action == "list":
            return selectors.discovery()
        if self.action in self.changing_actions:
            # Found only to check it may be changed; the answer is read afresh after the change.
            return selectors.visible_to(self.request.user)
        return selectors.with_counts(selectors.visible_to(self.request.user))

    def filter_queryset(self, queryset: QuerySet[Event]) -> QuerySet[Event]:
        # Only the discovery list filters; a detail URL never depends on the query string.
        if self.action != "list":
            return queryset
        # With none of its parameters in the query the filter set changes nothing, and building
        # and validating its form cost a plain page 0.2 ms of its 4.
        if not DiscoveryFilter.base_filters.keys() & self.request.query_params.keys():
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self) -> Event:
        event = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, event)
        return event

    def fresh(self, event_id: int) -> dict[str, Any]:
        """The event as it is now, with its counts."""
        event = get_object_or_404(selectors.with_counts(Event.objects.all()), pk=event_id)
        return EventSerializer(event, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Discover events",
        parameters=DISCOVERY_PARAMETERS,
        responses={200: EventSerializer(many=True), **errors(400, 404)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One event by id",
        description="Any status but someone else's DRAFT; COMPLETED events stay reachable.",
        responses={200: EventSerializer, **errors(404)},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Create a DRAFT event",
        request=EventWriteSerializer,
        responses={201: EventSerializer, **errors(400, 415)},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EventWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        event = serializer.save()
        return Response(self.fresh(event.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an event",
        description=(
            "`status` is not writable (400). Finished events cannot be edited, and an ONGOING "
            "event's start cannot move into the future (409)."
        ),
        request=EventWriteSerializer,
        responses={200: EventSerializer, **errors(400, 403, 404, 409, 415)},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = self.get_object()
        editing.check_editable(event)  # 409 before the body is read, as CONTRACT §4 orders
        serializer = EventWriteSerializer(
            event, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(self.fresh(event.pk))

    @extend_schema(
        summary="Delete a DRAFT event",
        responses={204: None, **errors(403, 404, 409)},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = self.get_object()
        try:
            editing.delete_draft(event.pk)
        except Event.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="My events",
        description="Events I organize or joined, COMPLETED included unless asked otherwise.",
        parameters=MINE_PARAMETERS,
        responses={200: EventSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=False, filter_backends=[])
    def mine(self, request: Request) -> Response:
        query = MineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        events = selectors.mine(
            signed_in(request.user),
            include_completed=options["include_completed"],
            statuses=options.get("status"),
            role=options.get("role"),
        )
        page = self.paginate_queryset(selectors.with_counts(events))
        return self.get_paginated_response(EventSerializer(page, many=True).data)

    def transition(self, move: Callable[..., Event]) -> Response:
        event = self.get_object()
        try:
            move(event.pk, actor=self.request.user, source=EventStatusChange.Source.API)
        except Event.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(self.fresh(event.pk))

    @extend_schema(summary="DRAFT → CONFIRMED", request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        return self.transition(lifecycle.confirm)

    @extend_schema(summary="→ CANCELLED", request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self.transition(lifecycle.cancel)

    @extend_schema(summary="→ COMPLETED", request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        return self.transition(lifecycle.complete)

    @extend_schema(summary="Join an open event", request=None, responses=JOIN_RESPONSES)
    @action(detail=True, methods=["post"])
    def join(self, request: Request, pk: str) -> Response:
        return self.participate(participation.join)

    @extend_schema(summary="Leave an open event", request=None, responses=JOIN_RESPONSES)
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, pk: str) -> Response:
        return self.participate(participation.leave)

    def participate(self, change: Callable[[int, Any], object]) -> Response:
        """Join or leave as the request's user: 409 when the event is not open, 404 if gone."""
        event = self.get_object()
        try:
            change(event.pk, signed_in(self.request.user))
        except Event.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(self.fresh(event.pk))

    @extend_schema(
        summary="Status history, oldest first",
        description="`actor` is shown to the event's organizer and staff only, else null.",
        responses={200: StatusChangeSerializer(many=True), **errors(404)},
    )
    @action(detail=True, pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk: str) -> Response:
        event = self.get_object()
        changes = selectors.history(event)
        show_actors = selectors.may_see_actors(request.user, event)
        return Response(
            StatusChangeSerializer(changes, many=True, context={"show_actors": show_actors}).data
        )

    @extend_schema(
        summary="The event as a calendar file",
        description=(
            "One VEVENT (CONTRACT §10): stable UID, SEQUENCE that grows on every date or status "
            "change, STATUS:CANCELLED once cancelled. Answers 304 to a matching If-None-Match."
        ),
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="iCalendar."),
            304: OpenApiResponse(description="Unchanged since the ETag sent."),
            **errors(404),
        },
    )
    def calendar(self, request: Request, pk: str) -> HttpResponseBase:
        event = self.get_object()
        event = calendars.with_sequence(Event.objects.filter(pk=event.pk)).get()
        return ics_response(request._request, calendars.document([event]), f"event-{pk}.ics")
