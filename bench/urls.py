"""Production URLs plus the baselines of the HTTP figures; never mounted in production."""

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework import pagination, serializers, viewsets
from rest_framework.routers import SimpleRouter

from apps.events.api.serializers import EventSerializer
from apps.events.models import Event
from core.urls import handler400, handler500  # noqa: F401
from core.urls import urlpatterns as production_urlpatterns

# Django reads the error handlers from ROOT_URLCONF (handler400, handler500 above): without them
# an exhausted pool was a 500 page here, not the 503 with Retry-After that production answers.

CONSTANT = {"status": "ok", "results": []}


def constant_json(request: HttpRequest) -> JsonResponse:
    """The least a Django view can do: the baseline of the discovery list's throughput."""
    return JsonResponse(CONSTANT)


class PlainUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class PlainEventSerializer(serializers.ModelSerializer):
    organizer = PlainUserSerializer(read_only=True)
    participant_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Event
        # The same fields (and so the same JSON) as the product's serializer, built the common way.
        fields = EventSerializer.Meta.fields


class PlainPagination(pagination.PageNumberPagination):
    page_size = 20


class PlainEventViewSet(viewsets.ModelViewSet):
    """The discovery list as most teams write it: ModelViewSet, ModelSerializer, page numbers,
    with the usual care (organizer joined, the count annotated) so it is no N+1 strawman."""

    serializer_class = PlainEventSerializer
    pagination_class = PlainPagination
    queryset = (
        Event.objects.filter(status__in=Event.ACTIVE_STATUSES)
        .select_related("organizer")
        .annotate(participant_count=Count("participations"))
        .order_by("start_date", "id")
    )


plain = SimpleRouter()
plain.register("events", PlainEventViewSet, basename="plain-event")

urlpatterns = [
    path("bench/constant/", constant_json),
    path("bench/plain/", include(plain.urls)),
    *production_urlpatterns,
]
