"""Assertions shared by the API tests of every app."""

from __future__ import annotations

from typing import Any


def assert_error(response: Any, status_code: int, *keys: str) -> dict[str, Any]:
    """A JSON error body with `status_code`, naming each of `keys` (default: `detail`)."""
    assert response.status_code == status_code, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    for key in keys or ("detail",):
        assert key in body, body
    return body
