"""A renderer for `text/calendar`, so a client that asks only for it reaches the calendar action
(DRF refuses a request whose Accept no renderer offers with 406 before the view runs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer


class CalendarRenderer(BaseRenderer):
    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        # The view answers with the file itself; only an error (404, 429) comes here as data,
        # and it stays the JSON error body of CONTRACT §4, labelled as such.
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()
