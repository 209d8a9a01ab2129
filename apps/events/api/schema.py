"""OpenAPI post-processing: say in the schema what the serializers enforce."""

from __future__ import annotations

from typing import Any

VALIDATION_ERROR = {
    "type": "object",
    "description": '`{"field": ["message", ...]}` per invalid field, or `{"detail": "..."}`.',
    "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request bodies reject unknown keys (StrictFieldsMixin): `additionalProperties: false`."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    schemas["ValidationError"] = VALIDATION_ERROR
    return result
