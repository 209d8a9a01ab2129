"""Thin views over `endpoints`: an owner's webhook endpoints and their delivery logs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.events.api.views import errors
from apps.webhooks import endpoints
from apps.webhooks.api.serializers import (
    CreatedEndpointSerializer,
    EndpointSerializer,
    EndpointWriteSerializer,
    WebhookDeliverySerializer,
)
from apps.webhooks.models import Endpoint
from core.users import signed_in


class DeliveryPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 50


@extend_schema_view(
    list=extend_schema(responses={200: EndpointSerializer(many=True), **errors()}),
    retrieve=extend_schema(responses={200: EndpointSerializer, **errors(404)}),
    destroy=extend_schema(responses={204: None, **errors(404)}),
)
class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EndpointSerializer
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = None
    lookup_value_converter = "int"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Endpoint]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Endpoint.objects.none()
        # Someone else's endpoint is a 404, as if it did not exist.
        return endpoints.owned_by(signed_in(self.request.user))

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("create", "partial_update"):
            return EndpointWriteSerializer
        if self.action in ("deliveries", "retry"):
            return WebhookDeliverySerializer
        return EndpointSerializer

    @extend_schema(
        request=EndpointWriteSerializer,
        responses={201: CreatedEndpointSerializer, **errors()},
        description="Register an endpoint. `secret` (whsec_…) is in this answer only.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        write = EndpointWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        endpoint = endpoints.create(signed_in(request.user), **write.validated_data)
        return Response(CreatedEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EndpointWriteSerializer, responses={200: EndpointSerializer, **errors(404)}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        write = EndpointWriteSerializer(endpoint, data=request.data, partial=True)
        write.is_valid(raise_exception=True)
        endpoints.update(endpoint, **write.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True), **errors(404)})
    @action(detail=True, methods=["get"], pagination_class=DeliveryPagination)
    def deliveries(self, request: Request, pk: int) -> Response:
        """The endpoint's deliveries, newest first: state, attempts and the last answer."""
        page = self.paginate_queryset(endpoints.deliveries(self.get_object()))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer, **errors(404)})
    @action(
        detail=True,
        methods=["post"],
        url_path="deliveries/<int:delivery_id>/retry",
        url_name="retry",
    )
    def retry(self, request: Request, pk: int, delivery_id: int) -> Response:
        """Send this delivery again now (same webhook-id)."""
        delivery = get_object_or_404(endpoints.deliveries(self.get_object()), pk=delivery_id)
        delivery = endpoints.retry(delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
