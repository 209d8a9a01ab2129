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


def nullable_references(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """`{"allOf": [{"$ref": X}], "nullable": true}` (drf-spectacular's nullable nested serializer)
    becomes `{"oneOf": [{"$ref": X}, {"type": T, "nullable": true, "enum": [null]}]}`.

    Under OpenAPI 3.0.3 `nullable` only means something beside a `type` in the same schema object,
    so strict validators (openapi-core, redocly) refused `null` for the first form.
    """
    schemas = result.get("components", {}).get("schemas", {})

    def fix(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                fix(item)
            return
        if not isinstance(node, dict):
            return
        refs = node.get("allOf")
        if node.get("nullable") is True and "type" not in node and refs and len(refs) == 1:
            ref = refs[0].get("$ref", "")
            target = schemas.get(ref.rsplit("/", 1)[-1], {})
            null = {"type": target.get("type", "object"), "nullable": True, "enum": [None]}
            del node["allOf"], node["nullable"]
            node["oneOf"] = [refs[0], null]
        for value in node.values():
            fix(value)

    fix(result)
    return result


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request bodies reject unknown keys (StrictFieldsMixin): `additionalProperties: false`."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    schemas["ValidationError"] = VALIDATION_ERROR
    return result
