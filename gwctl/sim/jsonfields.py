"""Reading request bodies as the gateway's services do: property names compared ignoring
case (System.Text.Json with PropertyNameCaseInsensitive, as ASP.NET Core's web defaults
set it), ids that must be GUIDs."""

from __future__ import annotations

import uuid
from typing import Any


def get_field(obj: dict[str, Any], name: str) -> Any:
    """The value of property `name` in `obj`, whatever its case; None when absent."""
    low = name.lower()
    for key, value in obj.items():
        if key.lower() == low:
            return value
    return None


def is_guid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
