"""README's "SCIM protocol support" table and `/ServiceProviderConfig` cannot drift: every
`path=value` the table's ServiceProviderConfig column states is what the configuration says,
each row's status agrees with it, and every capability the configuration declares is stated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from scim2_models import Context

from provisioning.scim.resources import (
    CURSOR_TIMEOUT_SECONDS,
    FILTER_SCAN_LIMIT,
    MAX_RESULTS,
    SERVICE_PROVIDER_CONFIG,
)

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## SCIM protocol support"
STATEMENT = re.compile(r"`([A-Za-z.]+)=([^`]+)`")
# Configuration attributes that decide whether a feature is there (RFC 7643 §5, RFC 9865 §4).
SWITCHES = {"supported", "cursor", "index"}


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    assert text.count(SECTION) == 1, f"README needs exactly one {SECTION!r} section"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def _rows() -> list[dict[str, str]]:
    lines = [line.strip() for line in _section().splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["Feature", "RFC", "Status", "ServiceProviderConfig", "Notes"]
    assert set(lines[1].replace("|", "").replace(" ", "")) == {"-"}
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


ROWS = _rows()
CONFIG: dict[str, Any] = SERVICE_PROVIDER_CONFIG.model_dump(
    scim_ctx=Context.RESOURCE_QUERY_RESPONSE, mode="json"
)


def _configured(path: str) -> Any:
    """The configuration's value at a dotted path; a multi-valued attribute answers for each of
    its values, which must agree (one authentication scheme here)."""
    value: Any = CONFIG
    for part in path.split("."):
        if isinstance(value, list):
            values = {json.dumps(item[part]) for item in value}
            assert len(values) == 1, path
            value = value[0][part]
        else:
            value = value[part]
    return value


def _leaves(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v, f"{prefix}{k}.") for k, v in value.items()))
    return {prefix.rstrip(".")}


def _stated(row: dict[str, str]) -> dict[str, Any]:
    return {path: json.loads(raw) for path, raw in STATEMENT.findall(row["ServiceProviderConfig"])}


def test_the_table_has_the_features_the_issue_names() -> None:
    features = {row["Feature"] for row in ROWS}
    assert features >= {
        "Filtering",
        "Sorting",
        "Index pagination",
        "Cursor pagination",
        "PATCH",
        "Bulk",
        "Change password",
        "ETags",
        "Authentication",
        "`attributes` / `excludedAttributes`",
        "POST `/.search`",
        "Discovery",
    }
    assert all(row["Status"] in {"Supported", "Not supported"} for row in ROWS)
    assert all(row["RFC"].startswith("RFC ") for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row["Feature"] for row in ROWS])
def test_what_a_row_states_is_what_the_configuration_says(row: dict[str, str]) -> None:
    for path, value in _stated(row).items():
        assert _configured(path) == value, f"{row['Feature']}: {path}"


@pytest.mark.parametrize(
    "row",
    [row for row in ROWS if any(p.split(".")[-1] in SWITCHES for p in _stated(row))],
    ids=lambda row: row["Feature"],
)
def test_a_row_is_supported_exactly_when_the_configuration_says_so(row: dict[str, str]) -> None:
    switches = {p: v for p, v in _stated(row).items() if p.split(".")[-1] in SWITCHES}
    assert len(set(switches.values())) == 1, row["Feature"]
    supported = next(iter(switches.values()))
    assert row["Status"] == ("Supported" if supported else "Not supported")


def test_every_capability_the_configuration_declares_is_in_the_table() -> None:
    stated = set().union(*(_stated(row) for row in ROWS))
    capabilities = {
        leaf
        for name in ("patch", "bulk", "filter", "changePassword", "sort", "etag", "pagination")
        for leaf in _leaves(CONFIG[name], f"{name}.")
    }
    assert capabilities <= stated, sorted(capabilities - stated)
    assert {"authenticationSchemes.type", "authenticationSchemes.primary"} <= stated


def test_the_table_names_each_configuration_attribute_once() -> None:
    paths = [path for row in ROWS for path in _stated(row)]
    assert len(paths) == len(set(paths))


def test_the_notes_quote_the_service_limits() -> None:
    notes = {row["Feature"]: row["Notes"] for row in ROWS}
    assert f"{FILTER_SCAN_LIMIT:,} stored resources" in notes["Filtering"]
    assert f"`expiredCursor` after {CURSOR_TIMEOUT_SECONDS:,} s" in notes["Cursor pagination"]
    assert f"a larger `count` reads as {MAX_RESULTS}" in notes["Index pagination"]
