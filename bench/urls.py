"""Production URLs plus the baseline view of the HTTP figure; never mounted in production."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from core.urls import urlpatterns as production_urlpatterns

CONSTANT = {"status": "ok", "results": []}


def constant_json(request: HttpRequest) -> JsonResponse:
    """The least a Django view can do: the baseline of the discovery list's throughput."""
    return JsonResponse(CONSTANT)


urlpatterns = [path("bench/constant/", constant_json), *production_urlpatterns]
