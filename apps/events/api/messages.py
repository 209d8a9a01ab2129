"""/api/events/{id}/messages/ and /deliveries/: an event's message rules and their delivery log
(CONTRACT §4), for its organizer. Thin: the rules are `messages.configuring`'s."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from apps.events import selectors
from apps.events.api.pagination import EventCursorPagination
from apps.events.api.serializers import StrictFieldsMixin, TextField
from apps.events.api.views import errors
from apps.events.messages import configuring, due, templating
from apps.events.models import Delivery, Event, MessageRule


@extend_schema_field({"type": "string", "example": "PT2H"})
class OffsetField(serializers.Field):
    default_error_messages = {
        "invalid": "Must be an ISO 8601 duration such as PT2H, P1D or P1DT12H "
        "(weeks, days, hours, minutes, seconds; at most P366D)."
    }

    def to_representation(self, value: Any) -> str:
        return due.format_offset(value)

    def to_internal_value(self, data: Any) -> Any:
        offset = due.parse_offset(data) if isinstance(data, str) else None
        if offset is None:
            self.fail("invalid")
        return offset


@extend_schema_field({"type": "string", "nullable": True, "example": "09:00"})
class LocalTimeField(serializers.Field):
    default_error_messages = {"invalid": 'Must be a local time "HH:MM", e.g. "09:00", or null.'}

    def to_representation(self, value: Any) -> str:
        return str(value.strftime("%H:%M"))

    def to_internal_value(self, data: Any) -> Any:
        parsed = due.parse_local_time(data) if isinstance(data, str) else None
        if parsed is None:
            self.fail("invalid")
        return parsed


def check_template(value: str) -> None:
    try:
        templating.compile_template(value)
    except templating.TemplateRefused as refused:
        raise serializers.ValidationError(str(refused)) from None


class MessageRuleSerializer(StrictFieldsMixin, serializers.Serializer):
    """A message rule: when (kind, offset, local_time) and what (subject, body templates)."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=[k.value for k in configuring.ORGANISER_KINDS])
    offset = OffsetField(help_text="ISO 8601 duration before the start / after the end.")
    local_time = LocalTimeField(
        required=False, allow_null=True, help_text="HH:MM in the event's zone, or null."
    )
    subject = TextField(
        max_length=200, required=False, allow_blank=True, validators=[check_template]
    )
    body = TextField(
        max_length=20000,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        validators=[check_template],
        help_text=f"Django template language; placeholders {templating.PLACEHOLDERS}.",
    )
    due_at = serializers.DateTimeField(read_only=True)


class DeliveryUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class MessageDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule_id = serializers.IntegerField()
    kind = serializers.CharField(source="rule.kind")
    user = DeliveryUserSerializer()
    due_at = serializers.DateTimeField()
    state = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)


def organized_event(request: Request, event_id: int) -> Event:
    """The event if the request's user organizes it: 404 when they cannot see it, else 403."""
    event = get_object_or_404(selectors.visible_to(request.user), pk=event_id)
    if event.organizer_id != request.user.pk:
        raise PermissionDenied("Only the event's organizer can do this.")
    return event


class MessageRuleViewSet(viewsets.ViewSet):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MessageRuleSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_field = "rule_id"
    lookup_value_converter = "int"

    @extend_schema(
        summary="An event's message rules",
        responses={200: MessageRuleSerializer(many=True), **errors(404)},
    )
    def list(self, request: Request, id: int) -> Response:
        event = organized_event(request, id)
        rules = event.message_rules.filter(kind__in=configuring.ORGANISER_KINDS).order_by(
            "due_at", "id"
        )
        return Response(MessageRuleSerializer(rules, many=True).data)

    @extend_schema(
        summary="Add a message rule",
        request=MessageRuleSerializer,
        responses={201: MessageRuleSerializer, **errors(404, 409, 415)},
    )
    def create(self, request: Request, id: int) -> Response:
        event = organized_event(request, id)
        serializer = MessageRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = configuring.create_rule(event.pk, **serializer.validated_data)
        return Response(MessageRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a message rule",
        request=MessageRuleSerializer,
        responses={200: MessageRuleSerializer, **errors(404, 409, 415)},
    )
    def partial_update(self, request: Request, id: int, rule_id: int) -> Response:
        event = organized_event(request, id)
        serializer = MessageRuleSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            rule = configuring.update_rule(event.pk, rule_id, **serializer.validated_data)
        except MessageRule.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(MessageRuleSerializer(rule).data)

    @extend_schema(summary="Delete a message rule", responses={204: None, **errors(404, 409)})
    def destroy(self, request: Request, id: int, rule_id: int) -> Response:
        event = organized_event(request, id)
        try:
            configuring.delete_rule(event.pk, rule_id)
        except MessageRule.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryPagination(EventCursorPagination):
    ordering = ("due_at", "id")
    counts: dict[str, int]

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["counts"] = self.counts
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["counts"] = {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "Deliveries of the event by state (all of them, whatever ?state=).",
        }
        return response


STATES = [state.value for state in Delivery.State]


class DeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MessageDeliverySerializer
    pagination_class = DeliveryPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Delivery]:
        event = organized_event(self.request, self.kwargs["id"])
        deliveries = Delivery.objects.filter(rule__event=event)
        counts = dict(deliveries.order_by().values_list("state").annotate(n=Count("id")))
        assert isinstance(self.paginator, DeliveryPagination)
        self.paginator.counts = {state: counts.get(state, 0) for state in STATES}
        state = self.request.query_params.get("state")
        if state is not None:
            if state not in STATES:
                raise serializers.ValidationError(
                    {"state": [f"Must be one of {', '.join(STATES)}."]}
                )
            deliveries = deliveries.filter(state=state)
        return deliveries.select_related("rule", "user")

    @extend_schema(
        summary="An event's delivery log, with counts by state",
        parameters=[OpenApiParameter("state", str, enum=STATES)],
        responses={200: MessageDeliverySerializer(many=True), **errors(404)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
