"""Hostile SCIM requests generated from the schemas the service serves, and the harness that sends
them through the local stack and checks what every answer must be (issue 12).

The generator reads the attributes, types, sub-attributes and canonical values of each resource
type from the discovery models (`GET /Schemas` renders the same ones; a test holds them equal),
and builds from them valid-looking and broken requests:

- resource bodies for POST and PUT: each attribute with a value of its type or of another JSON
  type, unknown attributes, unknown or missing schema URNs, case-variant attribute names;
- PATCH bodies: operations on paths read from the schemas (sub-attributes, URN-qualified,
  value filters) and on broken paths, with values of the path's type or not;
- list and search queries: filters from the RFC 7644 §3.4.2.2 grammar over the schema's paths
  and from outside it, sorts, paging, cursors and projections, as query strings and as
  SearchRequest bodies with right and wrong JSON types;
- bytes: malformed and truncated JSON, duplicate keys, deep nesting, bodies near and over the
  size limit, invalid UTF-8 and escaped lone surrogates, NUL bytes, UTF-16, wrong Content-Type.

Strings come from a pool of Unicode edge cases (NUL, bidi controls, combining marks, non-NFC
spellings, the Kelvin sign, a BOM, astral characters, escaped lone surrogates) and of sizes around
the key limit, DynamoDB's item limit and the body limit.

Requests name the seeded user and group by placeholders (`@uid@`, `@gid@`) that the harness fills
with the current ids when it sends them.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from scim2_models import Context

from provisioning.local import HttpResponse, LocalStack
from provisioning.local.gateway import MAX_PAYLOAD_BYTES
from provisioning.scim.resources import PROVIDER
from provisioning.settings import get_settings
from tests.conftest import ERROR_SCHEMA, PATCH_SCHEMA, SCIM_JSON, ScimClient, directory_items

USER_ID = "@uid@"
GROUP_ID = "@gid@"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_KEY_BYTES = 1024  # DynamoDB's partition key limit is 2048 bytes; values of half of it
ITEM_BYTES = 400 * 1024
GATEWAY_PAYLOAD_BYTES = MAX_PAYLOAD_BYTES

Strategy = st.SearchStrategy


# --- the schemas ------------------------------------------------------------------------------


def served_schemas() -> dict[str, dict[str, Any]]:
    """Every schema as discovery renders it (by URN)."""
    return {
        str(schema.id): schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, mode="json")
        for schema in PROVIDER.schemas
    }


# RFC 7643 §3.1: attributes of every resource that the schemas do not list.
_COMMON_ATTRIBUTES: list[dict[str, Any]] = [
    {"name": "id", "type": "string", "mutability": "readOnly"},
    {"name": "externalId", "type": "string", "mutability": "readWrite"},
    {
        "name": "meta",
        "type": "complex",
        "mutability": "readOnly",
        "subAttributes": [
            {"name": name, "type": kind}
            for name, kind in (
                ("resourceType", "string"),
                ("created", "dateTime"),
                ("lastModified", "dateTime"),
                ("version", "string"),
                ("location", "reference"),
            )
        ],
    },
]


@dataclass(frozen=True)
class ResourceTypeSchema:
    """A resource type's endpoint, its core schema and extensions, with their attributes."""

    endpoint: str
    core: str
    core_attributes: tuple[dict[str, Any], ...]
    extensions: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]

    def paths(self) -> list[tuple[str, dict[str, Any]]]:
        """Every attribute path a client could name (RFC 7644 §3.10), with the attribute it
        names: plain, URN-qualified, and sub-attributes of complex ones."""
        found: list[tuple[str, dict[str, Any]]] = []
        for urn, attributes, qualified_only in (
            (self.core, self.core_attributes, False),
            *((urn, attrs, True) for urn, attrs in self.extensions),
        ):
            for attribute in attributes:
                names = [f"{urn}:{attribute['name']}"]
                if not qualified_only:
                    names.append(attribute["name"])
                for name in names:
                    found.append((name, attribute))
                    for sub in attribute.get("subAttributes") or ():
                        found.append((f"{name}.{sub['name']}", sub))
        return found

    def multi_valued_complex(self) -> list[dict[str, Any]]:
        return [a for a in self.core_attributes if a.get("multiValued") and a.get("subAttributes")]


def resource_type_schemas() -> dict[str, ResourceTypeSchema]:
    """The served resource types (by endpoint), with the attributes of their schemas."""
    schemas = served_schemas()
    found = {}
    for resource_type in PROVIDER.resource_types:
        core = str(resource_type.schema_)
        extensions = tuple(
            (str(ext.schema_), tuple(schemas[str(ext.schema_)]["attributes"]))
            for ext in resource_type.schema_extensions or ()
        )
        attributes = (*schemas[core]["attributes"], *_COMMON_ATTRIBUTES)
        found[str(resource_type.endpoint)] = ResourceTypeSchema(
            str(resource_type.endpoint), core, tuple(attributes), extensions
        )
    return found


TYPES = resource_type_schemas()


# --- values -----------------------------------------------------------------------------------


def body_limit() -> int:
    return get_settings().max_body_bytes


# Unicode that has broken services: NUL, bidi controls, combining marks and non-NFC spellings,
# characters whose case mapping changes length, the Kelvin sign, noncharacters, a BOM, astral
# characters; and lone surrogates, which JSON can only carry escaped (RFC 8259 §8.2).
UNICODE_EDGES = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202etxt.exe",
    "\u200fRTL\u200e",
    "e\u0301",
    "\u00e9",
    "A\u030a\u0301\u0301\u0301",
    "\u212a",
    "\u00df\u1e9e",
    "\u0130i\u0131",
    "\ufeffbom",
    "\uffff\ufffe",
    "\U0001f600\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0010ffff",
    "\ud800",
    "a\udfffb",
    "\udbff\udc00",  # a valid pair
    "\t\n\r\x0b\x0c",
    "\u2028\u2029",
    "' OR '1'='1",
    '"quoted"',
    "\\",
    "../..",
    "%00%ff",
    "${jndi:ldap://x}",
)
# Sizes around the key limit, DynamoDB's item limit and the body limit (as offsets from it).
_FIXED_SIZES = (MAX_KEY_BYTES - 1, MAX_KEY_BYTES + 1, 2049, 70_000, ITEM_BYTES + 1)
_LIMIT_OFFSETS = (-200, -1, 0, 1, 1000)


def huge_strings() -> Strategy[str]:
    fixed = st.sampled_from(_FIXED_SIZES)
    near_limit = st.sampled_from(_LIMIT_OFFSETS).map(lambda offset: body_limit() + offset)
    letter = st.sampled_from(["x", "\u00e9", "\U0001f600", "\x00"])
    # As many characters as make `size` bytes of escaped JSON, the longest form a body takes.
    return st.builds(
        lambda size, c: c * max(0, size // len(json.dumps(c)[1:-1])), fixed | near_limit, letter
    )


def strings() -> Strategy[str]:
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(UNICODE_EDGES),
        st.sampled_from([USER_ID, GROUP_ID, "2819c223-7f76-453a-919d-413861904646"]),
        st.emails().map(str),
        st.lists(st.sampled_from(UNICODE_EDGES), min_size=2, max_size=4).map("".join),
        huge_strings(),
    )


def json_scalars() -> Strategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63, max_value=2**200),
        st.floats(allow_nan=False, allow_infinity=False),
        strings(),
    )


def any_json() -> Strategy[Any]:
    return st.recursive(
        json_scalars(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.text(max_size=6) | st.sampled_from(UNICODE_EDGES), inner, max_size=3
            )
        ),
        max_leaves=6,
    )


_TYPED_VALUES: dict[str, Strategy[Any]] = {
    "boolean": st.booleans() | st.sampled_from(["True", "false", "FALSE", "yes", "1", ""]),
    "integer": st.integers() | st.sampled_from(["1", 2**64, -(2**70)]),
    "decimal": st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["1.5", 1e308]),
    "dateTime": st.sampled_from(
        [
            "2024-02-29T23:59:60Z",
            "2011-08-01T18:29:49.793Z",
            "2011-08-01T18:29:49+14:00",
            "0000-00-00T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "yesterday",
            "",
        ]
    ),
    "reference": st.sampled_from(
        [
            "https://example.com/scim/v2/Users/" + USER_ID,
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "User",
            "Group",
            "not a uri",
            "javascript:alert(1)",
            "",
        ]
    ),
    "binary": st.sampled_from(["TWFu", "====", "not base64!", ""]),
}


def typed_value(attribute: dict[str, Any], depth: int = 0) -> Strategy[Any]:
    """One value of the attribute's type (and of a canonical value when it has some)."""
    kind = attribute.get("type", "string")
    if kind == "complex" and depth < 2:
        subs = attribute.get("subAttributes") or ()
        return st.fixed_dictionaries(
            {}, optional={sub["name"]: attribute_value(sub, depth + 1) for sub in subs}
        )
    choices = [_TYPED_VALUES.get(kind, strings())]
    if kind == "string":
        choices += [strings(), st.sampled_from(UNICODE_EDGES)]
    if attribute.get("canonicalValues"):
        choices.insert(0, st.sampled_from(attribute["canonicalValues"]))
    if attribute.get("name") == "value":
        choices.insert(0, st.sampled_from([USER_ID, GROUP_ID, "no-such-user"]))
    return st.one_of(choices)


def attribute_value(
    attribute: dict[str, Any], depth: int = 0, typed: bool = False
) -> Strategy[Any]:
    """A value of the attribute's type and multiplicity, or (less often, unless `typed`) of
    another JSON type."""
    one = typed_value(attribute, depth)
    value = st.lists(one, max_size=3) if attribute.get("multiValued") else one
    return value if typed else st.one_of(value, value, value, any_json())


# --- attribute paths and filters --------------------------------------------------------------

_BROKEN_PATHS = (
    "",
    " ",
    ".",
    "name.",
    ".name",
    "name..givenName",
    "name.givenName.extra",
    "emails[",
    'emails[type eq "work"',
    "emails]",
    'emails[type eq "work"]]',
    "emails[]",
    "emails[type]",
    'emails[type eq "work"].',
    'emails[type eq "work"].value.x',
    "members[value eq]",
    'members[value eq "x"].value',
    "members.display",
    "urn:",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:bogus:2.0:User:x",
    "urn:ietf:params:scim:schemas:core:2.0:Group:userName",
    "nosuchattribute",
    "$ref",
    "meta.created",
    "groups",
    "id",
    "a" * 5000,
    "\u00fcserName",
    "userName\x00",
)


def attribute_paths(schema: ResourceTypeSchema) -> Strategy[str]:
    named = [name for name, _ in schema.paths()]
    case_variants = st.sampled_from(named).map(str.upper) | st.sampled_from(named).map(str.swapcase)
    return st.one_of(
        st.sampled_from(named),
        st.sampled_from(named),
        case_variants,
        st.sampled_from(_BROKEN_PATHS),
        st.text(max_size=8),
    )


_OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Eq")
_BROKEN_OPERATORS = ("", "=", "==", "eqq", "like", "pr")


def comparison_values() -> Strategy[str]:
    """A filter's compValue as written in a query: JSON strings, literals, numbers, and tokens
    that are none of those."""
    return st.one_of(
        strings().filter(lambda s: len(s) < 2000).map(json.dumps),
        strings().filter(lambda s: len(s) < 2000).map(lambda s: json.dumps(s, ensure_ascii=False)),
        st.sampled_from(["true", "false", "null", "True", "NULL", "1", "-1.5e300", "1e999"]),
        st.sampled_from(['"unterminated', '"\\ud800"', '"\\u0000"', '"\\x41"', "'single'", "bare"]),
        st.sampled_from(['"2011-05-13T04:42:34Z"', f'"{USER_ID}"', f'"{GROUP_ID}"']),
    )


def filters(schema: ResourceTypeSchema) -> Strategy[str]:
    """Filters from the RFC 7644 §3.4.2.2 grammar over the schema's paths, and near misses."""
    path = attribute_paths(schema)
    operator = st.sampled_from(_OPERATORS) | st.sampled_from(_BROKEN_OPERATORS)
    comparison = st.builds(lambda a, o, v: f"{a} {o} {v}", path, operator, comparison_values())
    present = path.map(lambda a: f"{a} pr")
    leaves = [comparison, comparison, present]
    complex_attributes = schema.multi_valued_complex()
    if complex_attributes:

        def value_path(attribute: dict[str, Any]) -> Strategy[str]:
            subs = [sub["name"] for sub in attribute["subAttributes"]] + ["bogus"]
            inner = st.builds(
                lambda a, o, v: f"{a} {o} {v}",
                st.sampled_from(subs),
                operator,
                comparison_values(),
            )
            return inner.map(lambda text: f"{attribute['name']}[{text}]")

        leaves.append(st.sampled_from(complex_attributes).flatmap(value_path))
    joined = st.recursive(
        st.one_of(leaves),
        lambda inner: st.one_of(
            st.builds(
                lambda a, j, b: f"{a} {j} {b}", inner, st.sampled_from(["and", "or", "AND"]), inner
            ),
            inner.map(lambda f: f"not ({f})"),
            inner.map(lambda f: f"({f})"),
        ),
        max_leaves=5,
    )
    hostile = st.one_of(
        st.sampled_from(["", " ", "()", "not", "and", "(userName pr", "userName pr)", "[]"]),
        st.integers(1, 3000).map(lambda n: "(" * n + "userName pr" + ")" * n),
        st.integers(1, 3000).map(lambda n: "not (" * n + "userName pr" + ")" * n),
        st.integers(500, 3000).map(lambda n: " or ".join(["userName pr"] * n)),
        st.text(max_size=30),
    )
    return st.one_of(joined, joined, joined, hostile)


def integer_texts() -> Strategy[str]:
    return st.one_of(
        st.integers(-(10**6), 10**6).map(str),
        st.sampled_from(
            ["", " 1", "1e3", "0x10", "-0", "+5", "1_000", "\u0663", "\uff19", "9" * 5000, "nan"]
        ),
        st.integers(2**31, 2**70).map(str),
    )


def projections(schema: ResourceTypeSchema) -> Strategy[str]:
    return st.lists(attribute_paths(schema), max_size=4).map(",".join) | st.text(max_size=10)


def query_params(schema: ResourceTypeSchema) -> Strategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "filter": filters(schema),
            "sortBy": attribute_paths(schema),
            "sortOrder": st.sampled_from(["ascending", "DESCENDING", "", "up"])
            | st.text(max_size=4),
            "startIndex": integer_texts(),
            "count": integer_texts(),
            "cursor": st.sampled_from(["", "eyJ9", "a" * 3000, "\x00"]) | st.text(max_size=40),
            "attributes": projections(schema),
            "excludedAttributes": projections(schema),
            "unknownParam": st.text(max_size=5),
        },
    )


# --- documents --------------------------------------------------------------------------------


def schema_lists(urns: list[str]) -> Strategy[Any]:
    return st.one_of(
        st.just(urns[:1]),
        st.just(urns),
        st.just([urn.upper() for urn in urns]),
        st.sampled_from(
            [
                [],
                ["urn:ietf:params:scim:schemas:extension:bogus:2.0:User"],
                [*urns[:1], "urn:example:unknown"],
                urns[0],
                [1],
                None,
            ]
        ),
    )


def resource_documents(schema: ResourceTypeSchema) -> Strategy[dict[str, Any]]:
    """A POST/PUT body of the resource type: the schema's attributes, each with its type's value
    or another's, unknown attributes and extensions, the required ones usually present."""
    urns = [schema.core, *(urn for urn, _ in schema.extensions)]
    core = st.fixed_dictionaries(
        {},
        optional={a["name"]: attribute_value(a) for a in schema.core_attributes},
    )
    typed = st.lists(
        st.sampled_from(schema.core_attributes).flatmap(
            lambda a: attribute_value(a, typed=True).map(lambda v: (a["name"], v))
        ),
        max_size=1,
    ).map(dict)
    extensions = st.fixed_dictionaries(
        {},
        optional={
            urn: st.fixed_dictionaries({}, optional={a["name"]: attribute_value(a) for a in attrs})
            | any_json()
            for urn, attrs in schema.extensions
        },
    )
    unknown = st.dictionaries(
        st.sampled_from(["nosuch", "USERNAME", "DisplayName", "urn:example:ext", "schemas "]),
        any_json(),
        max_size=2,
    )
    # A fresh unique value, so that some bodies are valid and the service writes them.
    required = st.builds(
        lambda u, edge: f"fuzz-{u.hex[:12]}{edge}@example.com",
        st.uuids(),
        st.just("") | st.sampled_from(UNICODE_EDGES),
    )
    required_name = "userName" if schema.endpoint == "/Users" else "displayName"

    def merge(
        schemas: Any, fresh: str, c: dict[str, Any], e: dict[str, Any], u: dict[str, Any]
    ) -> dict[str, Any]:
        document: dict[str, Any] = {"schemas": schemas, required_name: fresh}
        document.update(c)
        document.update(e)
        document.update(u)
        if schemas is None:
            del document["schemas"]
        return document

    hostile = st.builds(merge, schema_lists(urns), required, core, extensions, unknown)
    # A body the service accepts but for, maybe, one value: how odd values reach the store.
    clean = st.builds(merge, st.just([schema.core]), required, typed, st.just({}), st.just({}))
    return hostile | clean


_OPS = ("add", "replace", "remove", "Add", "Replace", "REMOVE", "move", "", "copy")


def patch_documents(schema: ResourceTypeSchema) -> Strategy[dict[str, Any]]:
    """A PatchOp body: operations on the schema's paths with values of their type (or not), on
    broken paths, without a path (a partial resource), and operations that are not objects."""
    pairs = schema.paths()
    op = st.sampled_from(_OPS) | st.sampled_from([None, 1, ["add"]])

    def on_path(pair: tuple[str, dict[str, Any]]) -> Strategy[dict[str, Any]]:
        name, attribute = pair
        return st.fixed_dictionaries(
            {"op": op, "path": st.just(name)}, optional={"value": attribute_value(attribute)}
        )

    filtered = st.sampled_from(schema.multi_valued_complex() or [{"name": "emails"}]).flatmap(
        lambda attribute: st.builds(
            lambda sub, value, rest: {
                "op": "replace",
                "path": f"{attribute['name']}[{sub} eq {value}]{rest}",
                "value": "x",
            },
            st.sampled_from(["type", "value", "primary", "display"]),
            comparison_values(),
            st.sampled_from(["", ".value", ".type", ".display", ".nosuch"]),
        )
    )
    member_ops = st.builds(
        lambda o, p, v: {"op": o, "path": p, "value": v},
        op,
        st.sampled_from(["members", "Members", f'members[value eq "{USER_ID}"]', "members.value"]),
        st.lists(st.fixed_dictionaries({"value": strings()}), max_size=3) | any_json(),
    )
    typed = st.sampled_from(pairs).flatmap(
        lambda pair: st.builds(
            lambda o, v: {"op": o, "path": pair[0], "value": v},
            st.sampled_from(["add", "replace"]),
            attribute_value(pair[1], typed=True),
        )
    )
    operation = st.one_of(
        typed,
        typed,
        st.sampled_from(pairs).flatmap(on_path),
        st.sampled_from(pairs).flatmap(on_path),
        st.builds(
            lambda o, p, v: {"op": o, "path": p, "value": v},
            op,
            st.sampled_from(_BROKEN_PATHS),
            any_json(),
        ),
        st.builds(lambda o, v: {"op": o, "value": v}, op, resource_documents(schema)),
        filtered,
        member_ops,
        any_json(),
    )
    return st.fixed_dictionaries(
        {
            "schemas": st.just([PATCH_SCHEMA]) | schema_lists([PATCH_SCHEMA]),
            "Operations": st.lists(typed, min_size=1, max_size=2)
            | st.lists(operation, max_size=4)
            | any_json(),
        }
    )


def search_documents(schema: ResourceTypeSchema) -> Strategy[dict[str, Any]]:
    """A SearchRequest body (RFC 7644 §3.4.3): its fields with their JSON types, or others."""
    params = query_params(schema)

    def typed(values: dict[str, str]) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for name, value in values.items():
            if name in {"attributes", "excludedAttributes"}:
                document[name] = value.split(",")
            elif name in {"startIndex", "count"}:
                try:
                    document[name] = int(value)
                except ValueError:
                    document[name] = value
            else:
                document[name] = value
        return document

    wrong = st.dictionaries(
        st.sampled_from(["filter", "count", "startIndex", "attributes", "sortBy", "cursor"]),
        any_json(),
        max_size=2,
    )
    return st.builds(
        lambda schemas, fields, broken: {"schemas": schemas, **fields, **broken},
        schema_lists([SEARCH_SCHEMA]),
        params.map(typed),
        wrong,
    )


# --- bytes ------------------------------------------------------------------------------------


def _with_duplicate_keys(document: Any, extra: Any) -> str:
    """JSON text of the document whose top-level object repeats each key (first with `extra`,
    then its own value) and adds case variants: which one wins is the parser's choice."""
    if not isinstance(document, dict) or not document:
        return json.dumps(document)
    members = []
    for key, value in document.items():
        members.append(f"{json.dumps(key)}: {json.dumps(extra)}")
        members.append(f"{json.dumps(key.upper())}: {json.dumps(value)}")
        members.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{" + ", ".join(members) + "}"


def encodings(document: Strategy[Any]) -> Strategy[bytes]:
    """The document as bytes: plain JSON, raw UTF-8, duplicate keys, truncated, one byte
    changed, padded to around the body limit, behind a BOM, in UTF-16, or with lone surrogates
    as raw (invalid) UTF-8."""

    def truncated(text: bytes, cut: int) -> bytes:
        return text[: cut % max(1, len(text))]

    def flipped(text: bytes, at: int, byte: int) -> bytes:
        if not text:
            return bytes([byte])
        at %= len(text)
        return text[:at] + bytes([byte]) + text[at + 1 :]

    def padded(text: bytes, offset: int) -> bytes:
        return text + b" " * max(0, body_limit() + offset - len(text))

    plain = document.map(lambda d: json.dumps(d).encode())
    return st.one_of(
        *[plain] * 8,
        document.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        st.builds(lambda d, x: _with_duplicate_keys(d, x).encode(), document, json_scalars()),
        st.builds(truncated, plain, st.integers(0, 10_000)),
        st.builds(flipped, plain, st.integers(0, 10_000), st.integers(0, 255)),
        st.builds(padded, plain, st.sampled_from(_LIMIT_OFFSETS)),
        plain.map(lambda text: b"\xef\xbb\xbf" + text),
        document.map(lambda d: json.dumps(d).encode("utf-16")),
        plain.map(lambda text: text.replace(b"\\u0000", b"\x00")),
    )


def raw_bodies() -> Strategy[bytes]:
    """Bytes that are no JSON object, or barely one."""
    depths = st.sampled_from([100, 999, 1000, 5000, 100_000])
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b'"text"',
                b"1",
                b"NaN",
                b"Infinity",
                b'{"a": NaN}',
                b"{}\x00",
                b"\x00" * 16,
                b'{"schemas": ["\\ud800"]}',
                b'{"userName": "\\udc00\\ud800"}',
                b"\xff\xfe{\x00}\x00",
                b"{" * 10 + b"}" * 10,
                b'{"a":1,}',
                b"{'a': 1}",
                b"\xc0\x80",
            ]
        ),
        depths.map(lambda n: b"[" * n + b"]" * n),
        depths.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        depths.map(lambda n: b'{"schemas":[' + b"[" * n + b"]" * n + b"]}"),
        st.sampled_from(_LIMIT_OFFSETS).map(lambda offset: b"[" * (body_limit() + offset)),
        st.sampled_from(_LIMIT_OFFSETS).map(
            lambda offset: b'{"userName":"' + b"x" * (body_limit() + offset) + b'"}'
        ),
    )


def bodies(document: Strategy[Any]) -> Strategy[bytes]:
    return st.one_of(encodings(document), encodings(document), encodings(document), raw_bodies())


# --- requests ---------------------------------------------------------------------------------

_CONTENT_TYPES = (
    SCIM_JSON,
    SCIM_JSON,
    SCIM_JSON,
    "application/json",
    "application/scim+json; charset=utf-8",
    "application/scim+json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
    None,
)
_VERSIONS = (None, None, None, "*", 'W/"1"', 'W/"2"', '"1"', "garbage", 'W/"1", W/"2"', "W/")
_HOSTILE_IDS = (
    "2819c223-7f76-453a-919d-413861904646",
    GROUP_ID,
    "x" * 3000,
    "\u00e9\u202e",
    "%00",
    "%ff%fe",
    "..",
    ".search",
    " ",
    "%2F",
    USER_ID.upper(),
)


@dataclass(frozen=True)
class FuzzRequest:
    """One generated request; `@uid@` / `@gid@` stand for the seeded user's and group's ids."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def __repr__(self) -> str:
        body = self.body if self.body is None or len(self.body) < 400 else self.body[:400] + b"..."
        size = "" if self.body is None else f" ({len(self.body)} bytes)"
        return f"{self.method} {self.path} {dict(self.query)!a} {self.headers!a} {body!r}{size}"


def _headers(content_type: str | None, if_match: str | None, if_none: str | None) -> tuple:
    sent = []
    if content_type is not None:
        sent.append(("Content-Type", content_type))
    if if_match is not None:
        sent.append(("If-Match", if_match))
    if if_none is not None:
        sent.append(("If-None-Match", if_none))
    return tuple(sent)


def _query(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(params.items())


def requests() -> Strategy[FuzzRequest]:
    """Every kind of request the generator makes, on every resource endpoint."""
    return st.one_of(
        writes(),
        patches(),
        listings(),
        searches(),
        reads_and_deletes(),
    )


def _headers_strategy() -> Strategy[tuple]:
    return st.builds(
        _headers,
        st.sampled_from(_CONTENT_TYPES),
        st.sampled_from(_VERSIONS),
        st.sampled_from(_VERSIONS),
    )


def _ids(placeholder: str) -> Strategy[str]:
    return st.one_of(st.just(placeholder), st.just(placeholder), st.sampled_from(_HOSTILE_IDS))


def writes() -> Strategy[FuzzRequest]:
    """POST on a collection, PUT on a resource: resource bodies (sometimes another kind's)."""

    def of(endpoint: str, schema: ResourceTypeSchema) -> Strategy[FuzzRequest]:
        placeholder = USER_ID if endpoint == "/Users" else GROUP_ID
        resource = resource_documents(schema)
        document = st.one_of(resource, resource, resource, patch_documents(schema), any_json())
        body = bodies(document)
        post = st.builds(
            lambda b, h, q: FuzzRequest("POST", endpoint, q, h, b),
            body,
            _headers_strategy(),
            st.one_of(st.just(()), st.just(()), query_params(schema).map(_query)),
        )
        put = st.builds(
            lambda i, b, h: FuzzRequest("PUT", f"{endpoint}/{i}", (), h, b),
            _ids(placeholder),
            body,
            _headers_strategy(),
        )
        return post | put

    return st.one_of([of(endpoint, schema) for endpoint, schema in TYPES.items()])


def patches() -> Strategy[FuzzRequest]:
    def of(endpoint: str, schema: ResourceTypeSchema) -> Strategy[FuzzRequest]:
        placeholder = USER_ID if endpoint == "/Users" else GROUP_ID
        return st.builds(
            lambda i, b, h, q: FuzzRequest("PATCH", f"{endpoint}/{i}", q, h, b),
            _ids(placeholder),
            bodies(patch_documents(schema)),
            _headers_strategy(),
            st.just(()) | query_params(schema).map(_query),
        )

    return st.one_of([of(endpoint, schema) for endpoint, schema in TYPES.items()])


def listings() -> Strategy[FuzzRequest]:
    def of(endpoint: str, schema: ResourceTypeSchema) -> Strategy[FuzzRequest]:
        return st.builds(
            lambda q: FuzzRequest("GET", endpoint, _query(q), ()), query_params(schema)
        )

    return st.one_of([of(endpoint, schema) for endpoint, schema in TYPES.items()])


def searches() -> Strategy[FuzzRequest]:
    def of(path: str, schema: ResourceTypeSchema) -> Strategy[FuzzRequest]:
        return st.builds(
            lambda b, h: FuzzRequest("POST", path, (), h, b),
            bodies(search_documents(schema)),
            _headers_strategy(),
        )

    targets = [(f"{endpoint}/.search", schema) for endpoint, schema in TYPES.items()]
    targets.append(("/.search", TYPES["/Users"]))
    return st.one_of([of(path, schema) for path, schema in targets])


def reads_and_deletes() -> Strategy[FuzzRequest]:
    """GET and DELETE by id (with preconditions and projections), and methods an endpoint does
    not serve."""

    def of(endpoint: str, schema: ResourceTypeSchema) -> Strategy[FuzzRequest]:
        placeholder = USER_ID if endpoint == "/Users" else GROUP_ID
        params = st.fixed_dictionaries(
            {},
            optional={
                "attributes": projections(schema),
                "excludedAttributes": projections(schema),
            },
        )
        get = st.builds(
            lambda i, q, h: FuzzRequest("GET", f"{endpoint}/{i}", _query(q), h),
            _ids(placeholder),
            params,
            _headers_strategy(),
        )
        delete = st.builds(
            lambda i, h: FuzzRequest("DELETE", f"{endpoint}/{i}", (), h),
            _ids(placeholder),
            _headers_strategy(),
        )
        unserved = st.builds(
            lambda method, path: FuzzRequest(method, path, (), (("Content-Type", SCIM_JSON),)),
            st.sampled_from(["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]),
            st.sampled_from([endpoint, f"{endpoint}/.search", "/.search"]),
        )
        return get | delete | unserved

    return st.one_of([of(endpoint, schema) for endpoint, schema in TYPES.items()])


# --- the harness ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one request did: its status, and every property it broke (none, normally)."""

    status: int
    broken: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """Figures of a fuzz run."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    not_scim: int = 0
    changed_on_reject: int = 0
    failures: list[tuple[FuzzRequest, Outcome]] = field(default_factory=list)

    def add(self, request: FuzzRequest, outcome: Outcome) -> None:
        self.cases += 1
        self.statuses[outcome.status] += 1
        self.server_errors += outcome.status >= 500
        self.not_scim += any("SCIM Error" in b or "content-type" in b for b in outcome.broken)
        self.changed_on_reject += any("table changed" in b for b in outcome.broken)
        if outcome.broken and len(self.failures) < 20:
            self.failures.append((request, outcome))


class Fuzzer:
    """One organization on a local stack, a seeded user in a seeded group, and the directory's
    last known state: sends generated requests and checks each answer."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.client = ScimClient(stack, stack.create_organization("fuzz"))
        self.user_id = ""
        self.group_id = ""
        self.reseed()

    def reseed(self) -> None:
        """Make sure the seeded user and group exist (a fuzzed DELETE or PUT may have removed
        or renamed them), then take the directory's state."""
        if not self.user_id or self.client.get(f"/Users/{self.user_id}").status != 200:
            user = self.client.post(
                "/Users",
                {
                    "userName": f"seed-{self.stack_tag()}@contoso.example",
                    "externalId": f"seed-{self.stack_tag()}",
                    "emails": [{"value": "seed@contoso.example", "type": "work"}],
                },
            )
            assert user.status == 201, user.body
            self.user_id = user.json()["id"]
        if not self.group_id or self.client.get(f"/Groups/{self.group_id}").status != 200:
            group = self.client.post(
                "/Groups",
                {"displayName": f"Seed {self.stack_tag()}", "members": [{"value": self.user_id}]},
            )
            assert group.status == 201, group.body
            self.group_id = group.json()["id"]
        self.stack.drain()
        self.state = directory_items()

    def stack_tag(self) -> str:
        return uuid.uuid4().hex[:10]

    def fill(self, text: str) -> str:
        return text.replace(USER_ID, self.user_id).replace(GROUP_ID, self.group_id)

    def send(self, request: FuzzRequest) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self.client.token}"}
        headers.update({name: self.fill(value) for name, value in request.headers})
        body = request.body
        if body is not None:
            body = body.replace(USER_ID.encode(), self.user_id.encode())
            body = body.replace(GROUP_ID.encode(), self.group_id.encode())
        return self.stack.request(
            request.method,
            f"/scim/v2{self.fill(request.path)}",
            headers=headers,
            body=body,
            query={name: self.fill(value) for name, value in request.query} or None,
        )

    def check(self, request: FuzzRequest) -> Outcome:
        """Send the request; a 5xx, a 4xx that is no SCIM Error, or a 4xx after which the table
        differs are broken properties. A 2xx (or 304) is a request the generator made valid:
        the directory's state is taken again."""
        response = self.send(request)
        self.stack.drain()
        outcome = Outcome(response.status)
        if request.body is not None and len(request.body) > GATEWAY_PAYLOAD_BYTES:
            # API Gateway answers larger bodies itself, before any function runs: its own 413.
            if response.status != 413:
                outcome.broken.append(f"{response.status} for a body over API Gateway's limit")
            if directory_items() != self.state:
                outcome.broken.append("table changed by a body API Gateway refused")
            return outcome
        if response.status >= 500:
            outcome.broken.append(f"a {response.status}: {response.body[:300]!r}")
        if response.status >= 400:
            outcome.broken += scim_error_problems(response)
            after = directory_items()
            if after != self.state:
                outcome.broken.append(f"table changed by a rejected request ({response.status})")
                self.state = after
        else:
            self.reseed()
        return outcome


def scim_error_problems(response: HttpResponse) -> list[str]:
    """How the response fails to be a SCIM Error of its status (RFC 7644 §3.12), if it does."""
    problems = []
    if response.headers.get("content-type") != SCIM_JSON:
        problems.append(f"content-type {response.headers.get('content-type')!r}")
    try:
        body = response.json()
    except ValueError:
        return [*problems, f"not a SCIM Error: {response.body[:200]!r}"]
    if not isinstance(body, dict):
        return [*problems, f"not a SCIM Error: {body!r}"]
    if body.get("schemas") != [ERROR_SCHEMA] or body.get("status") != str(response.status):
        problems.append(f"not a SCIM Error of status {response.status}: {body!r}")
    return problems
