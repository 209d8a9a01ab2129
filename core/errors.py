"""What the site answers to requests it cannot serve: JSON under /api/, the HTML pages elsewhere.

- `RefuseNulBytes`, the one guard for NUL bytes, which PostgreSQL refuses in text (a
  `psycopg.DataError`, so a 500, wherever one reached a query): in the query string or a header
  the request is a 400 naming what held it; in a cookie that cookie is ignored, as if never sent,
  so a browser holding a bad cookie is not locked out.
- `bad_request` and `server_error`, the project's handler400 and handler500. A request that
  found the database pool exhausted (every connection busy for DATABASE_POOL_TIMEOUT) is a 503
  with Retry-After instead: the server is busy, not broken, and the client should come back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from psycopg_pool import PoolTimeout

API_PREFIX = "/api/"
NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."
# Request headers Django keeps without the HTTP_ prefix.
UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")
BUSY_RETRY_AFTER_SECONDS = 1


class UnreadableRequest(BadRequest):
    """A 400 whose JSON body is `errors`: `{"field": ["message"]}` or `{"detail": "..."}`."""

    def __init__(self, errors: dict[str, object]) -> None:
        super().__init__(str(errors))
        self.errors = errors


class RefuseNulBytes:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad_params = {
            key: [NUL_MESSAGE]
            for key, values in request.GET.lists()
            if NUL in key or any(NUL in value for value in values)
        }
        if bad_params:
            raise UnreadableRequest(dict(bad_params))
        for name, value in request.META.items():
            is_header = name.startswith("HTTP_") or name in UNPREFIXED_HEADERS
            if is_header and name != "HTTP_COOKIE" and isinstance(value, str) and NUL in value:
                header = name.removeprefix("HTTP_").replace("_", "-").title()
                raise UnreadableRequest({"detail": f"{NUL_MESSAGE} (header {header})"})
        request.COOKIES = {
            key: value for key, value in request.COOKIES.items() if NUL not in key + value
        }
        return self.get_response(request)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    errors = getattr(exception, "errors", None) or {"detail": "Bad request."}
    return JsonResponse(errors, status=400)


def pool_exhausted(error: BaseException | None) -> bool:
    """The error, or one it was raised from (Django wraps psycopg's), is psycopg_pool's timeout."""
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls handler500 inside its `except` block: the exception is the one being handled.
    if pool_exhausted(sys.exc_info()[1]):
        response: HttpResponse = JsonResponse(
            {"detail": "The server is busy, try again shortly."}, status=503
        )
        if not is_api(request):
            response = HttpResponse(
                "<h1>Busy</h1><p>The server is busy, try again shortly.</p>", status=503
            )
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse({"detail": "Server error."}, status=500)
