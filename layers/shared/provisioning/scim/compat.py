"""Documented deviations of real clients, brought back to RFC shape before validation.

Only what scim2-models' ScimPolicy does not already cover lives here.
"""

from __future__ import annotations

from typing import Any

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_MANAGER_PATH = f"{ENTERPRISE_USER}:manager".casefold()


def _manager_object(value: Any) -> Any:
    # Entra sends the manager as the bare id string rather than {"value": id} (RFC 7643 §4.3).
    return {"value": value} if isinstance(value, str) else value


def normalize_resource(payload: dict[str, Any]) -> dict[str, Any]:
    """A POST/PUT body, or a PATCH value object, with the enterprise manager as an object."""
    for key, extension in payload.items():
        if key.casefold() == ENTERPRISE_USER.casefold() and isinstance(extension, dict):
            for name in list(extension):
                if name.casefold() == "manager":
                    extension[name] = _manager_object(extension[name])
    return payload


def normalize_patch(payload: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp body with Entra's manager forms normalized in every operation."""
    for key, operations in payload.items():
        if key.casefold() != "operations" or not isinstance(operations, list):
            continue
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            path = operation.get("path")
            value = operation.get("value")
            if isinstance(path, str) and path.casefold() == _MANAGER_PATH:
                operation["value"] = _manager_object(value)
            elif path is None and isinstance(value, dict):
                normalize_resource(value)
    return payload
