"""The resource types this service serves, the policy it reads payloads under, and what it says
about itself in discovery. Validation and discovery come from the same models, so they cannot
drift."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar

import email_validator
from pydantic import Field
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    EnterpriseUser,
    ETag,
    Filter,
    Mutability,
    Pagination,
    Patch,
    Path,
    Reference,
    Required,
    Resource,
    ResourceType,
    Schema,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import (
    Group as _RfcGroup,
)
from scim2_models.path import AttributeBinding, CompareOperator
from scim2_models.path.resolution import coerce_value

from provisioning.kinds import GROUP_TYPE, USER_TYPE

# Directories synced from on-premises AD carry addresses on special-use domains (`user@corp.local`);
# the identity provider is the authority on its users' addresses, so none of them is refused here.
# Emptying this list is email-validator's documented way to accept those domains.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

MAX_RESULTS = 200
"""The most resources one list response holds (ServiceProviderConfig `filter.maxResults`, and
RFC 9865's `pagination.maxPageSize`)."""
DEFAULT_PAGE_SIZE = MAX_RESULTS
"""The page a list request gets without `count` (RFC 9865 `pagination.defaultPageSize`)."""
FILTER_SCAN_LIMIT = 5_000
"""The most stored resources one request reads to answer a filter, a sort or a total that no
index answers: beyond it, index paging is refused with `tooMany` and cursor pages stop early."""
CURSOR_TIMEOUT_SECONDS = 3_600
"""How long a `nextCursor` stays valid (RFC 9865 `pagination.cursorTimeout`)."""


class Manager(ComplexAttribute):
    """The enterprise `manager`, with `$ref` optional: Entra sends only the manager's id
    (RFC 7643 §4.3 marks `$ref` required, which no identity provider honours)."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Required.false] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display_name: Annotated[str | None, Mutability.read_only] = None


class EnterpriseUserExtension(EnterpriseUser):
    """RFC 7643 §4.3 enterprise extension, with the tolerant `manager` above."""

    manager: Manager | None = None  # type: ignore[assignment]


UserResource = User[EnterpriseUserExtension]


class Member(ComplexAttribute):
    """A group member as this service keeps and returns it: the user's id (RFC 7643 §4.2
    `value`, immutable). `$ref`, `type` and `display` are not kept: with them 100,000 members
    would not fit Lambda's 6 MB response, and discovery must not promise what is not returned."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None


class Group(_RfcGroup):
    """RFC 7643 §4.2 Group, with members as this service returns them."""

    members: list[Member] | None = None  # type: ignore[assignment]

    Members: ClassVar[type[ComplexAttribute]] = Member


@dataclass(frozen=True)
class UniqueAttribute:
    """An attribute whose value is unique per organization, of a resource model."""

    name: str
    model: type[Resource[Any]]

    def key(self, value: str) -> str:
        """The form filters compare the value in (scim2-models' comparison key: NFC, and lower
        case unless the attribute is caseExact, RFC 7643 §2.2), so an index lookup, a
        uniqueness guard and a filter's match agree on which values are equal."""
        key: str = self._binding.comparable(value)
        return key

    @cached_property
    def _binding(self) -> AttributeBinding:
        binding = Path[self.model](self.name).resolve()  # type: ignore[name-defined]
        assert binding is not None, f"{self.name} is an attribute of {self.model.__name__}"
        return binding


MAX_INDEXED_VALUES = 20
"""The most distinct values (by comparison key) of an indexed multi-valued attribute one resource
may hold: each is an index item written in the resource's own transaction (DynamoDB's 100)."""


@dataclass(frozen=True)
class IndexedValues:
    """A sub-attribute of a multi-valued attribute (`emails.value`) whose every value is indexed,
    so an equality on it is an index read, not a scan. Not unique: many resources may share one."""

    attribute: str
    sub_attribute: str
    model: type[Resource[Any]]

    @property
    def name(self) -> str:
        return f"{self.attribute}.{self.sub_attribute}"

    def key(self, value: str) -> str:
        """The form a filter's `eq` compares in: the value as its type reads it (an e-mail
        address has its domain lowered by the validator), then its comparison key (RFC 7643
        §2.2; `emails.value` is caseExact=false, §4.1.2). Stored values and a filter's operand
        go through the same steps, so the index finds exactly what the filter matches."""
        typed = coerce_value(self._binding, value, CompareOperator.eq)
        key: str = self._binding.comparable(typed)
        return key

    def keys(self, body: dict[str, Any]) -> list[str]:
        """The distinct keys of the values a stored body holds, in order (empty ones are no
        index key; an equality on "" is answered by paging)."""
        entries = body.get(self.attribute)
        if not isinstance(entries, list):
            return []
        values = (entry.get(self.sub_attribute) for entry in entries if isinstance(entry, dict))
        return sorted({self.key(value) for value in values if isinstance(value, str) and value})

    @cached_property
    def _binding(self) -> AttributeBinding:
        binding = Path[self.model](self.name).resolve()  # type: ignore[name-defined]
        assert binding is not None, f"{self.name} is an attribute of {self.model.__name__}"
        return binding


@dataclass(frozen=True)
class ResourceKind:
    """What the service needs to know to store and serve one SCIM resource type."""

    name: str
    endpoint: str
    model: type[Resource[Any]]
    unique: tuple[UniqueAttribute, ...]
    indexed: tuple[IndexedValues, ...] = ()


USER = ResourceKind(
    name=USER_TYPE,
    endpoint="/Users",
    model=UserResource,
    unique=(UniqueAttribute("userName", UserResource), UniqueAttribute("externalId", UserResource)),
    # Entra and Okta match an existing user by `emails[value eq "..."]` / `emails.value eq`.
    indexed=(IndexedValues("emails", "value", UserResource),),
)

# Identity providers deviate from the RFCs in documented ways; each setting names the client.
POLICY = ScimPolicy(
    # Entra and Okta send attributes we do not model (e.g. Okta's custom profile); dropping them
    # keeps provisioning flowing; /Schemas documents exactly the attributes we keep.
    unknown=ScimPolicy.Unknown.ignore,
    # Entra removes a multi-valued entry with `{"op":"Remove","path":"members","value":[...]}`.
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    # Entra writes `emails[type eq "work"].value` expecting the entry to be created if missing.
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

# What the service supports, exactly (RFC 7643 §5; RFC 9865 §4 for `pagination`). README's "SCIM
# protocol support" table says the same, and tests/unit/test_readme_features.py holds them together.
SERVICE_PROVIDER_CONFIG = ServiceProviderConfig(
    documentation_uri=None,
    patch=Patch(supported=True),
    # No /Bulk endpoint: RFC 7644 §3.7 makes it optional; 0 and 0 say no operation fits.
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    # Passwords are never stored, so there is none to change.
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type="oauthbearertoken",
            name="OAuth Bearer Token",
            description=(
                "A bearer token (RFC 6750) issued per organization, sent as "
                "'Authorization: Bearer <token>'."
            ),
            spec_uri="https://www.rfc-editor.org/info/rfc6750",
            primary=True,
        )
    ],
    pagination=Pagination(
        cursor=True,
        index=True,
        # RFC 9865 §2.4: a provider that paged by index before keeps index as its default.
        default_pagination_method=Pagination.DefaultPaginationMethod.index,
        default_page_size=DEFAULT_PAGE_SIZE,
        max_page_size=MAX_RESULTS,
        cursor_timeout=CURSOR_TIMEOUT_SECONDS,
    ),
)

GROUP = ResourceKind(
    name=GROUP_TYPE,
    endpoint="/Groups",
    model=Group,
    unique=(UniqueAttribute("displayName", Group), UniqueAttribute("externalId", Group)),
)

SERVED_KINDS: tuple[ResourceKind, ...] = (USER, GROUP)

PROVIDER = ScimProvider(
    # The resource schemas, then the service provider's own (RFC 7643 §8.7.2): /Schemas serves
    # every schema the service uses (RFC 7644 §4), which includes RFC 9865's `pagination`.
    [User, EnterpriseUserExtension, Group, ServiceProviderConfig, ResourceType, Schema],
    resource_types=[ResourceType.from_resource(kind.model) for kind in SERVED_KINDS],
    config=SERVICE_PROVIDER_CONFIG,
    policy=POLICY,
)
