"""The SCIM operations on one resource type (RFC 7644 §3.3-§3.6), storage-agnostic in its rules:
validation, PATCH and PUT semantics and filters come from scim2-models; persistence from the
store."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from scim2_models import (
    Context,
    InvalidValueException,
    Meta,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
    Resource,
    SCIMException,
)

from provisioning.scim import compat
from provisioning.scim.errors import TooManyRequests, from_validation_error
from provisioning.scim.resources import MAX_INDEXED_VALUES, POLICY, ResourceKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

from provisioning.store.dynamo import MAX_KEY_VALUE_BYTES, fits_key
from provisioning.store.resources import (
    IndexedValue,
    ResourceStore,
    StaleVersionError,
    StoredResource,
    UniqueValue,
)

# Optimistic-lock retries for writes without If-Match (concurrent PATCHes of one resource), with
# jittered back-off so that racing writers spread out instead of colliding again.
_WRITE_ATTEMPTS = 8
_BACKOFF_SECONDS = 0.01
# Attributes the server owns; a client's values for them are ignored (RFC 7643 §3.1).
_SERVER_OWNED = frozenset({"id", "meta", "groups"})

Clock = Callable[[], datetime]


class PendingWrites(Protocol):
    """Writes that go with a resource change but live outside its item (a group's members)."""

    @property
    def empty(self) -> bool: ...

    @property
    def needs_current_version(self) -> bool:
        """Whether the writes were computed from the whole current state (a replaced member
        list), so a concurrent change must send them back to be computed again."""

    def write(self, head: list[TransactWriteItemTypeDef]) -> None:
        """Write, with `head` (the resource's own items) in the first transaction."""


# What a change of the given (current) resource brings with it, computed afresh on each attempt.
Related = Callable[[StoredResource], PendingWrites | None]
# Items (events) that go with a change of the resource's own item, from its old and new state.
ChangeEvents = Callable[[StoredResource, StoredResource], "list[TransactWriteItemTypeDef]"]


def etag(version: int) -> str:
    """The weak ETag of a version (RFC 7644 §3.14); also `meta.version`."""
    return f'W/"{version}"'


def resource_model(kind: ResourceKind, stored: StoredResource) -> Resource[Any]:
    """The stored body as the kind's model, with its version as `meta.version`."""
    resource = kind.model.model_validate(stored.body, scim_ctx=Context.DEFAULT)
    if resource.meta is not None:
        resource.meta.version = etag(stored.version)
    return resource


# An entity-tag (RFC 7232 §2.3): an optional weakness indicator, then an opaque quoted string.
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')


def _names_version(header: str, version: int) -> bool:
    """Whether an If-Match / If-None-Match value names this version: `*`, or a list of tags one
    of which has the version as its opaque part.

    Tags compare weakly (the `W/` prefix aside, RFC 7232 §2.3.2) for both headers. RFC 7232 §3.1
    asks a strong comparison for If-Match, under which our weak tags could never match; RFC 7644
    §3.14 prefers weak ETags and its examples send them in If-Match. A malformed entry names
    nothing: If-Match then fails, If-None-Match lets the request through."""
    if header.strip() == "*":
        return True
    return str(version) in _ENTITY_TAG.findall(header)


class Unmet(Enum):
    """Which precondition of a request does not hold (RFC 7232 §6 evaluates If-Match first)."""

    IF_MATCH = "If-Match"
    IF_NONE_MATCH = "If-None-Match"


@dataclass(frozen=True)
class Preconditions:
    """A request's `If-Match` and `If-None-Match` on the resource it targets (RFC 7644 §3.14,
    RFC 7232 §3.1, §3.2). A resource exists whenever they are evaluated (a missing one is 404
    first, RFC 7232 §5), so `*` always matches."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def unmet(self, version: int) -> Unmet | None:
        """The precondition that fails at `version`, or None when the request may proceed."""
        if self.if_match is not None and not _names_version(self.if_match, version):
            return Unmet.IF_MATCH
        if self.if_none_match is not None and _names_version(self.if_none_match, version):
            return Unmet.IF_NONE_MATCH
        return None

    def require(self, version: int) -> None:
        """412 unless a write may proceed at `version`: a failed If-None-Match is 412 too for
        every method but GET and HEAD (RFC 7232 §3.2)."""
        unmet = self.unmet(version)
        if unmet is not None:
            raise PreconditionFailedException(
                detail=f"{unmet.value} does not hold for the current version {etag(version)}"
            )


NO_PRECONDITIONS = Preconditions()


class ResourceService:
    """Create, read, replace, patch, delete and list the resources of one kind, per organization."""

    def __init__(
        self,
        store: ResourceStore,
        kind: ResourceKind,
        clock: Clock = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self.kind = kind
        self._clock = clock
        self._new_id = new_id
        self._schema_urns = (str(kind.model.__schema__), *kind.model.get_extension_models())

    # --- reads -------------------------------------------------------------------------------

    def get(self, org_id: str, resource_id: str) -> StoredResource:
        found = self._store.get(org_id, self.kind.name, resource_id)
        if found is None:
            raise NotFoundException(detail=f"{self.kind.name} {resource_id} not found")
        return found

    def model(self, stored: StoredResource) -> Resource[Any]:
        return resource_model(self.kind, stored)

    # --- writes ------------------------------------------------------------------------------

    def create(
        self, org_id: str, payload: dict[str, Any], related: Related | None = None
    ) -> StoredResource:
        """POST (RFC 7644 §3.3). `related` writes what lives outside the resource's item (group
        members), starting in the resource's own transaction."""
        resource = self._validate(
            compat.normalize_resource(_without_server_owned(payload)),
            Context.RESOURCE_CREATION_REQUEST,
        )
        now = self._clock()
        resource.id = self._new_id()
        resource.meta = Meta(resource_type=self.kind.name, created=now, last_modified=now)
        stored = StoredResource(resource.id, 1, self._body(resource))
        items = self._store.create_items(
            org_id, self.kind.name, stored, self.unique_values(stored.body)
        )
        items += self._store.index_items(
            org_id, self.kind.name, stored.id, self.indexed_values(stored.body)
        )
        pending = related(stored) if related else None
        if pending is not None and not pending.empty:
            pending.write(items)
        else:
            self._store.commit(items)
        return stored

    def replace(
        self,
        org_id: str,
        resource_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
        related: Related | None = None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """PUT (RFC 7644 §3.5.1). readOnly attributes the client sends are ignored (the stored
        ones kept); an immutable one that already has a value must be sent unchanged, otherwise
        400 `mutability` (scim2-models' `Resource.replace` does both)."""
        body = compat.normalize_resource(_without_server_owned(payload))

        def change(current: Resource[Any]) -> Resource[Any] | None:
            replacement = self._validate(dict(body), Context.RESOURCE_REPLACEMENT_REQUEST)
            replacement.id = current.id
            replacement.meta = current.meta
            return replacement if replacement.replace(current) else None

        return self._update(org_id, resource_id, preconditions, change, related, events)

    def patch(
        self,
        org_id: str,
        resource_id: str,
        payload: dict[str, Any] | None,
        preconditions: Preconditions | None = None,
        related: Related | None = None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """PATCH (RFC 7644 §3.5.2), all operations or none; no change writes nothing.
        `payload` is None when `related` took every operation (group members).

        scim2-models refuses an operation whose path is readOnly, an immutable value changed once
        assigned, and a result with two primary values; it unmarks the other values when one is
        marked primary. Paths naming an attribute the schema does not define change nothing
        (the policy's `Unknown.ignore`)."""
        operations = None if payload is None else self._patch_operations(payload)

        def change(current: Resource[Any]) -> Resource[Any] | None:
            if operations is None:
                return None
            try:
                changed = operations.patch(current, scim_policy=POLICY)
            except ValidationError as error:
                raise from_validation_error(error) from error
            return current if changed else None

        return self._update(org_id, resource_id, preconditions, change, related, events)

    def delete(
        self,
        org_id: str,
        resource_id: str,
        preconditions: Preconditions | None = None,
        extra: Callable[[StoredResource], list[TransactWriteItemTypeDef]] | None = None,
    ) -> None:
        """DELETE (RFC 7644 §3.6) at the version read, with the caller's `extra` items (events,
        follow-up tasks) in the same transaction. The preconditions are evaluated on the version
        the delete is conditioned on; when another writer wins, they are evaluated again."""
        preconditions = preconditions or NO_PRECONDITIONS
        for attempt in range(_WRITE_ATTEMPTS):
            current = self.get(org_id, resource_id)
            preconditions.require(current.version)
            items = self._store.delete_items(
                org_id, self.kind.name, current, self.unique_values(current.body)
            )
            items += self._store.index_items(
                org_id, self.kind.name, current.id, (), self.indexed_values(current.body)
            )
            try:
                self._store.commit([*items, *(extra(current) if extra else [])])
                return
            except StaleVersionError:
                _back_off(attempt)
        raise TooManyRequests(detail="the resource is changing too often; retry")

    def _patch_operations(self, payload: dict[str, Any]) -> PatchOp[Any]:
        try:
            operations = PatchOp[self.kind.model].model_validate(  # type: ignore[name-defined]
                compat.normalize_patch(payload),
                scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                scim_policy=POLICY,
            )
        except ValidationError as error:
            raise from_validation_error(error) from error
        return operations

    def _update(
        self,
        org_id: str,
        resource_id: str,
        preconditions: Preconditions | None,
        change: Callable[[Resource[Any]], Resource[Any] | None],
        related: Related | None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """Read, check the preconditions, change in memory, write conditioned on the version
        read; when another writer won, read and check again. So the version a precondition was
        evaluated on is always the one the write commits against (RFC 7644 §3.14: 412 when the
        resource changed), and a precondition that still holds after a lost race is retried."""
        preconditions = preconditions or NO_PRECONDITIONS
        for attempt in range(_WRITE_ATTEMPTS):
            current = self.get(org_id, resource_id)
            preconditions.require(current.version)
            updated = change(self.model(current))
            if updated is not None and _same_content(self._body(updated), current.body):
                updated = None  # e.g. only an unknown schema URN, which is never kept
            pending = related(current) if related else None
            if pending is not None and pending.empty:
                pending = None
            if updated is None and pending is None:
                return current
            now = self._clock()
            stored: StoredResource | None = None
            if updated is not None:
                assert updated.meta is not None
                updated.meta.last_modified = now
                stored = StoredResource(current.id, current.version + 1, self._body(updated))
                head = self._store.replace_items(
                    org_id,
                    self.kind.name,
                    stored,
                    self.unique_values(stored.body),
                    self.unique_values(current.body),
                    current.version,
                )
                head += self._store.index_items(
                    org_id,
                    self.kind.name,
                    current.id,
                    self.indexed_values(stored.body),
                    self.indexed_values(current.body),
                )
                if events is not None:
                    head += events(current, stored)
            else:
                # A member-only change bumps the version unconditionally (concurrent member
                # changes never conflict), unless a precondition or a whole-list replacement
                # was computed from this version.
                pinned = preconditions.given or (
                    pending is not None and pending.needs_current_version
                )
                expected = current.version if pinned else None
                timestamp = now.isoformat().replace("+00:00", "Z")
                head = [
                    self._store.touch_item(org_id, self.kind.name, current.id, timestamp, expected)
                ]
            try:
                if pending is not None:
                    pending.write(head)
                else:
                    self._store.commit(head)
            except StaleVersionError:
                _back_off(attempt)
                continue
            return (
                stored if stored is not None and pending is None else self.get(org_id, current.id)
            )
        raise TooManyRequests(detail="the resource is changing too often; retry")

    # --- helpers -----------------------------------------------------------------------------

    def _validate(self, payload: dict[str, Any], context: Context) -> Resource[Any]:
        try:
            return self.kind.model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
        except ValidationError as error:
            raise from_validation_error(error) from error
        except SCIMException:
            raise

    def _body(self, resource: Resource[Any]) -> dict[str, Any]:
        """What is stored: everything but secrets. We do not authenticate users, so a password an
        identity provider sends is dropped, never kept (RFC 7643 §7 lets a provider ignore it)."""
        body = resource.model_dump(scim_ctx=Context.DEFAULT, mode="json")
        body.pop("password", None)
        # Attributes of schemas we do not define are dropped (the policy's Unknown.ignore), so
        # their URNs must not stay in `schemas` either (RFC 7643 §3: the schemas present).
        known = {urn.casefold() for urn in self._schema_urns}
        body["schemas"] = [urn for urn in body.get("schemas", []) if urn.casefold() in known]
        if isinstance(body.get("meta"), dict):
            body["meta"].pop("version", None)
            body["meta"].pop("location", None)
        return body

    def unique_values(self, body: dict[str, Any]) -> list[UniqueValue | None]:
        values: list[UniqueValue | None] = []
        for unique in self.kind.unique:
            value = body.get(unique.name)
            if value and not fits_key(value):
                raise InvalidValueException(
                    detail=f"{unique.name} is longer than {MAX_KEY_VALUE_BYTES} bytes"
                )
            values.append(UniqueValue(unique.name, unique.key(value)) if value else None)
        return values

    def indexed_values(self, body: dict[str, Any]) -> list[IndexedValue]:
        """The index items of the body's indexed multi-valued attributes (its e-mail addresses):
        each distinct value once, at most MAX_INDEXED_VALUES of them, each fitting a key."""
        values: list[IndexedValue] = []
        for indexed in self.kind.indexed:
            keys = indexed.keys(body)
            if len(keys) > MAX_INDEXED_VALUES:
                raise InvalidValueException(
                    detail=f"{indexed.name} holds at most {MAX_INDEXED_VALUES} distinct values"
                )
            if not all(fits_key(key) for key in keys):
                raise InvalidValueException(
                    detail=f"{indexed.name} is longer than {MAX_KEY_VALUE_BYTES} bytes"
                )
            values += [IndexedValue(indexed.name, key) for key in keys]
        return values


def _without_server_owned(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k.casefold() not in _SERVER_OWNED}


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter, not crypto


def _same_content(body: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a changed body holds what is stored, server metadata aside."""

    def content(value: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k != "meta"}

    return content(body) == content(stored)


class ResourceFacade:
    """What every resource type's service answers the same way: reads, by delegation."""

    def __init__(self, resources: ResourceService) -> None:
        self._resources = resources

    @property
    def kind(self) -> ResourceKind:
        return self._resources.kind

    def get(self, org_id: str, resource_id: str) -> StoredResource:
        return self._resources.get(org_id, resource_id)

    def model(self, stored: StoredResource) -> Resource[Any]:
        return self._resources.model(stored)
