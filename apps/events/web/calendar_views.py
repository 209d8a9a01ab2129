"""Calendar files over HTTP (CONTRACT §10): the secret personal feed, and the response both it and
the API's `/api/events/{id}/calendar.ics` send (ETag, 304 on a matching If-None-Match)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_safe

from apps.accounts import profiles
from apps.events import calendars, selectors

CONTENT_TYPE = "text/calendar; charset=utf-8"


def ics_response(request: HttpRequest, body: bytes, filename: str) -> HttpResponseBase:
    """`body` as a calendar file, or 304 when the client already holds these bytes."""
    etag = calendars.etag_of(body)
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return unchanged
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = etag
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # Private: the feed's address is a secret, and the event file may be a draft's.
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_safe
def personal_feed(request: HttpRequest, token: str) -> HttpResponseBase:
    """My Events as a subscribable calendar: no login, the token in the address is the key."""
    user = profiles.user_by_calendar_token(token)
    if user is None:
        raise Http404("No such calendar.")
    events = calendars.with_sequence(selectors.mine(user))
    body = calendars.document(events, name=f"Eventide: {user.get_username()}")
    return ics_response(request, body, "my-events.ics")
