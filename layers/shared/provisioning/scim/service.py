"""The SCIM operations on one resource type (RFC 7644 §3.3-§3.6), storage-agnostic in its rules:
validation, PATCH and PUT semantics and filters come from scim2-models; persistence from the
store."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
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
from provisioning.scim.resources import POLICY, ResourceKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

from provisioning.store.dynamo import MAX_KEY_VALUE_BYTES, fits_key
from provisioning.store.resources import (
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


def matches_etag(header: str, version: int) -> bool:
    """Whether an If-Match / If-None-Match header names this version (`*` names any)."""
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in wanted or f'"{version}"' in wanted


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
        if_match: str | None,
        related: Related | None = None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """PUT (RFC 7644 §3.5.1): readOnly attributes kept, immutable ones checked."""
        body = compat.normalize_resource(_without_server_owned(payload))

        def change(current: Resource[Any]) -> Resource[Any] | None:
            replacement = self._validate(dict(body), Context.RESOURCE_REPLACEMENT_REQUEST)
            replacement.id = current.id
            replacement.meta = current.meta
            return replacement if replacement.replace(current) else None

        return self._update(org_id, resource_id, if_match, change, related, events)

    def patch(
        self,
        org_id: str,
        resource_id: str,
        payload: dict[str, Any] | None,
        if_match: str | None,
        related: Related | None = None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """PATCH (RFC 7644 §3.5.2), all operations or none; no change writes nothing.
        `payload` is None when `related` took every operation (group members)."""
        operations = None if payload is None else self._patch_operations(payload)

        def change(current: Resource[Any]) -> Resource[Any] | None:
            if operations is None:
                return None
            try:
                changed = operations.patch(current, scim_policy=POLICY)
            except ValidationError as error:
                raise from_validation_error(error) from error
            return current if changed else None

        return self._update(org_id, resource_id, if_match, change, related, events)

    def delete(
        self,
        org_id: str,
        resource_id: str,
        if_match: str | None,
        extra: Callable[[StoredResource], list[TransactWriteItemTypeDef]] | None = None,
    ) -> None:
        """DELETE (RFC 7644 §3.6) at the version read, with the caller's `extra` items (events,
        follow-up tasks) in the same transaction."""
        for _ in range(_WRITE_ATTEMPTS):
            current = self.get(org_id, resource_id)
            check_precondition(current, if_match)
            items = self._store.delete_items(
                org_id, self.kind.name, current, self.unique_values(current.body)
            )
            try:
                self._store.commit([*items, *(extra(current) if extra else [])])
                return
            except StaleVersionError:
                if if_match is not None:
                    raise PreconditionFailedException(detail="the resource changed") from None
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
        if_match: str | None,
        change: Callable[[Resource[Any]], Resource[Any] | None],
        related: Related | None,
        events: ChangeEvents | None = None,
    ) -> StoredResource:
        """Read, change in memory, write at the read version; retry when another writer won,
        unless the client pinned a version with If-Match (then 412, RFC 7644 §3.14)."""
        for attempt in range(_WRITE_ATTEMPTS):
            current = self.get(org_id, resource_id)
            check_precondition(current, if_match)
            updated = change(self.model(current))
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
                if events is not None:
                    head += events(current, stored)
            else:
                pinned = if_match is not None or (
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
                if if_match is not None:
                    raise PreconditionFailedException(detail="the resource changed") from None
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


def _without_server_owned(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k.casefold() not in _SERVER_OWNED}


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter, not crypto


def check_precondition(current: StoredResource, if_match: str | None) -> None:
    if if_match is not None and not matches_etag(if_match, current.version):
        raise PreconditionFailedException(
            detail=f"If-Match does not match the current version {etag(current.version)}"
        )


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
