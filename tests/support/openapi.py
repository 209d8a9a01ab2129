"""Every JSON response of the suite's API calls checked against the OpenAPI schema (openapi-core).

`ResponseValidator.check(response)` finds the documented operation of a test client response
(method and path templated as in /api/schema/) and validates its status, content type and body;
a call to no documented operation (an unknown URL, PUT) is left alone, a documented operation
answering an undocumented status fails.
"""

from __future__ import annotations

from typing import Any

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse

HOST = "http://testserver"


class ResponseValidator:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.openapi = OpenAPI.from_dict(schema)
        self.checked = 0

    def check(self, response: Any) -> None:
        request = response.wsgi_request
        content_type = response.get("Content-Type", "")
        if not content_type.startswith("application/json") and response.status_code != 204:
            return
        mock_request = MockRequest(
            HOST,
            request.method,
            request.path,
            args=dict(request.GET.lists()),
            headers=dict(request.headers),
        )
        mock_response = MockResponse(
            response.content, status_code=response.status_code, content_type=content_type
        )
        try:
            self.openapi.validate_response(mock_request, mock_response)
        except (PathNotFound, OperationNotFound):
            return
        self.checked += 1
