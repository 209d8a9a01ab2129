"""One error shape for the whole API: `{"detail": "..."}` or `{"field": ["message", ...]}`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from apps.events import errors

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


class Conflict(exceptions.APIException):
    """The request is valid but the event's state does not allow it now."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The event's status does not allow this."
    default_code = "conflict"


def refusal(exc: Exception) -> exceptions.APIException | None:
    """The domain's refusals, mapped once: a value at fault is a 400 naming it, else a 409."""
    if isinstance(exc, errors.InvalidValue) and exc.field:
        return exceptions.ValidationError({exc.field: [exc.message]})
    if isinstance(exc, errors.Refused):  # errors.InvalidTransition included
        return Conflict(exc.message)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = refusal(exc) or exc
    if isinstance(exc, DjangoValidationError):
        detail: dict[str, Any] = {"detail": " ".join(exc.messages)}
        if hasattr(exc, "error_dict"):
            detail = dict(exc.message_dict)
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, list):
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    elif not isinstance(response.data, dict):
        response.data = {"detail": str(response.data)}
    elif isinstance(response.data.get(NON_FIELD), list):
        # "Expected a dictionary", "No data provided": about the whole body, so a `detail`.
        response.data["detail"] = " ".join(str(m) for m in response.data.pop(NON_FIELD))
    return response


@csrf_exempt  # nothing to protect, and a CSRF refusal would answer 403 in HTML
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown URLs under /api/ answer in JSON too."""
    return JsonResponse({"detail": "Not found."}, status=404)
