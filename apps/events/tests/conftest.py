"""Fixtures of the app's tests: every API response checked against the OpenAPI schema
(tests/support/openapi.py), and the channel layer's Redis database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from tests.support.openapi import ResponseValidator


@pytest.fixture(scope="session")
def openapi_schema() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return dict(json.loads(OpenApiJsonRenderer().render(schema)))


@pytest.fixture(scope="session")
def response_validator(openapi_schema: dict[str, Any]) -> ResponseValidator:
    return ResponseValidator(openapi_schema)


@pytest.fixture(autouse=True)
def api_responses_match_the_schema(
    response_validator: ResponseValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every APIClient response to a documented operation is validated by openapi-core."""
    request = APIClient.request

    def validated(self: APIClient, *args: Any, **kwargs: Any) -> Any:
        response = request(self, *args, **kwargs)
        response_validator.check(response)
        return response

    monkeypatch.setattr(APIClient, "request", validated)  # undone by monkeypatch's teardown


@pytest.fixture
def redis_db0() -> Iterator[redis.Redis]:
    """The channel layer's Redis database, emptied before and after the test."""
    client = redis.Redis.from_url(django_settings.CHANNEL_LAYER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
