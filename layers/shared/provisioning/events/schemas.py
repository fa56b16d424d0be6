"""The published contract as JSON Schema, generated from the event models.

One file per detail-type and version, `events/schemas/<detail-type>.v<version>.json`, for
consumers that do not read Python. Each describes the EventBridge event (its `source`,
`detail-type` and `detail`), so it validates what a rule target receives. The files are
committed and a test compares them with what the models generate, so the contract cannot drift
from the code; `python -m provisioning.events.schemas [folder]` rewrites them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema
from typing_extensions import override

from provisioning.events.contract import EVENT_TYPES, SOURCE, DomainEvent

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _PublishedDetail(GenerateJsonSchema):
    """The detail as published: the outbox stores `model_dump_json(by_alias=True)`, which
    writes every field, defaults included, so every field is required."""

    @override
    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return True


def schema_file_name(event: type[DomainEvent]) -> str:
    return f"{event.detail_type}.v{event.schema_version}.json"


def event_schema(event: type[DomainEvent]) -> dict[str, Any]:
    """The JSON Schema of one detail-type's EventBridge event."""
    detail = event.model_json_schema(
        by_alias=True, mode="serialization", schema_generator=_PublishedDetail
    )
    definitions = detail.pop("$defs", {})
    return {
        "$schema": DIALECT,
        "$id": f"{SOURCE}/{schema_file_name(event)}",
        "title": event.detail_type,
        "description": (
            f"{event.detail_type} version {event.schema_version}, from {SOURCE}. Consumers "
            "ignore fields they do not know; a breaking change is a new version."
        ),
        "type": "object",
        "properties": {
            "source": {"const": SOURCE},
            "detail-type": {"const": event.detail_type},
            "detail": detail,
        },
        "required": ["source", "detail-type", "detail"],
        "$defs": definitions,
    }


def schema_files() -> dict[str, str]:
    """Every detail-type's schema file, by file name, as it is committed."""
    return {
        schema_file_name(event): json.dumps(event_schema(event), indent=2) + "\n"
        for event in EVENT_TYPES.values()
    }


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "events/schemas")):
        print(path)
