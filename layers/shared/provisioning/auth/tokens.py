"""SCIM bearer tokens.

A token is `scim_<orgId>_<secret>`: the organization id is a non-secret prefix, so verification
reads exactly one secret (never a scan); the secret part carries 256 random bits. Secrets Manager
holds only SHA-256 digests of an organization's valid tokens, so a leaked secret value grants
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

TOKEN_PREFIX = "scim_"  # noqa: S105 - a public marker, not a secret
ORG_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_SECRET_BYTES = 32
# Secrets Manager's staging labels: the value verifiers read, and a rotation's candidate.
_CURRENT = "AWSCURRENT"
_STAGED = "AWSPENDING"
# Rotations that lose to a concurrent one read again this many times before giving up.
_ROTATION_ATTEMPTS = 5


class InvalidOrganizationIdError(ValueError):
    """An organization id that cannot be embedded in a token."""


class OrganizationExistsError(ValueError):
    """The organization already has a token secret."""


class OrganizationNotFoundError(LookupError):
    """The organization has no token secret to rotate."""


class RotationConflictError(RuntimeError):
    """Other rotations of the organization's tokens kept winning; nothing was changed."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredToken:
    """One valid token as Secrets Manager keeps it: its digest and when it stops being valid."""

    digest: str
    issued_at: datetime
    expires_at: datetime | None = None

    def is_valid_at(self, moment: datetime) -> bool:
        return self.expires_at is None or moment < self.expires_at

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "issuedAt": self.issued_at.isoformat(),
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredToken:
        expires = data.get("expiresAt")
        return cls(
            digest=str(data["digest"]),
            issued_at=datetime.fromisoformat(data["issuedAt"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(org_id: str) -> str:
    """A fresh token for an organization: its id as prefix, 256 random bits as secret."""
    check_org_id(org_id)
    return f"{TOKEN_PREFIX}{org_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def check_org_id(org_id: str) -> None:
    if not ORG_ID_PATTERN.match(org_id):
        raise InvalidOrganizationIdError(
            "organization ids are 2-63 characters of lower-case letters, digits and '-'"
        )


def organization_of(token: str) -> str | None:
    """The organization a well-formed token names, or None for a malformed one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    org_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(secret) < 43 or not ORG_ID_PATTERN.match(org_id):
        return None
    return org_id


def matches_any(token: str, stored: list[StoredToken], moment: datetime) -> bool:
    """Whether the token is one of the stored, unexpired ones; every digest is compared in
    constant time so timing tells nothing about which one came close."""
    presented = digest(token)
    found = False
    for candidate in stored:
        if hmac.compare_digest(presented, candidate.digest) and candidate.is_valid_at(moment):
            found = True
    return found


class TokenService:
    """Issues, rotates and verifies an organization's tokens against its Secrets Manager secret."""

    def __init__(
        self,
        client: SecretsManagerClient,
        prefix: str,
        clock: Callable[[], datetime] = _utc_now,
        cache_seconds: int = 30,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        # How long a verifying container trusts its copy of an organization's digests: a revoked
        # token stops working within this time (the authorizer runs on every request).
        self._cache_seconds = cache_seconds
        self._provider = SecretsProvider(boto3_client=client)

    def secret_name(self, org_id: str) -> str:
        return f"{self._prefix}{org_id}/tokens"

    def create_organization(self, org_id: str, token: str | None = None) -> str:
        """Create the organization's token secret and return its first token (shown only once)."""
        check_org_id(org_id)
        token = token or new_token(org_id)
        if organization_of(token) != org_id:
            raise InvalidOrganizationIdError("the token does not name this organization")
        stored = [StoredToken(digest(token), self._clock())]
        try:
            self._client.create_secret(
                Name=self.secret_name(org_id),
                SecretString=self._serialize(stored),
                Description=f"SHA-256 digests of the SCIM tokens of organization {org_id}",
            )
        except self._client.exceptions.ResourceExistsException as exc:
            raise OrganizationExistsError(org_id) from exc
        return token

    def rotate(self, org_id: str, grace: timedelta) -> str:
        """Issue a new token; the current ones stay valid for `grace` so the admin can paste the new
        one into the identity provider without an outage (a zero grace revokes them now). Expired
        entries are dropped.

        Two rotations at once must not lose a token, and a plain PutSecretValue is last-writer-
        wins. So the new digests go into a version that is not yet current (staged AWSPENDING),
        and UpdateSecretVersionStage moves AWSCURRENT to it with `RemoveFromVersionId` set to the
        version that was read: Secrets Manager refuses the move (InvalidParameterException) when
        AWSCURRENT is no longer on that version, which is a compare-and-swap on the current
        version. The loser reads the winner's version and tries again."""
        for _ in range(_ROTATION_ATTEMPTS):
            now = self._clock()
            read_version, current = self._current(org_id)
            token = new_token(org_id)
            kept = [
                StoredToken(t.digest, t.issued_at, min(t.expires_at or now + grace, now + grace))
                for t in current
                if t.is_valid_at(now)
            ]
            kept.append(StoredToken(digest(token), now))
            if self._replace_current(org_id, read_version, kept):
                return token
        raise RotationConflictError(org_id)

    def _replace_current(self, org_id: str, read_version: str, stored: list[StoredToken]) -> bool:
        """Make `stored` the current value if `read_version` still is; False if it is not."""
        name = self.secret_name(org_id)
        try:
            staged = self._client.put_secret_value(
                SecretId=name,
                SecretString=self._serialize(stored),
                ClientRequestToken=str(uuid.uuid4()),
                VersionStages=[_STAGED],
            )
            self._client.update_secret_version_stage(
                SecretId=name,
                VersionStage=_CURRENT,
                MoveToVersionId=staged["VersionId"],
                RemoveFromVersionId=read_version,
            )
        except self._client.exceptions.ResourceNotFoundException as exc:
            raise OrganizationNotFoundError(org_id) from exc
        except self._client.exceptions.InvalidParameterException:
            # AWSCURRENT moved off the version read: another rotation won. The staged version
            # loses AWSPENDING to the next attempt's, and Secrets Manager removes unlabelled
            # versions by itself.
            return False
        return True

    def verify(self, token: str) -> str | None:
        """The organization the token authenticates, or None: malformed, unknown or revoked."""
        org_id = organization_of(token)
        if org_id is None:
            return None
        stored = self._read(org_id, max_age=self._cache_seconds)
        return org_id if matches_any(token, stored, self._clock()) else None

    def _read(self, org_id: str, max_age: int) -> list[StoredToken]:
        """For verification: an unreadable secret authenticates nobody."""
        try:
            # AWSCURRENT is GetSecretValue's default on AWS; named because moto's default does
            # not follow the label when UpdateSecretVersionStage moves it (see `rotate`).
            value = self._provider.get(
                self.secret_name(org_id), max_age=max_age, transform="json", VersionStage=_CURRENT
            )
        except GetParameterError:
            return []
        return _parse(value)

    def _current(self, org_id: str) -> tuple[str, list[StoredToken]]:
        """For rotation, uncached: the current version's id and tokens. An error other than "no
        such organization" propagates, since taking it for "no token" would revoke every token
        without grace."""
        try:
            response = self._client.get_secret_value(
                SecretId=self.secret_name(org_id), VersionStage=_CURRENT
            )
        except self._client.exceptions.ResourceNotFoundException as exc:
            raise OrganizationNotFoundError(org_id) from exc
        return response["VersionId"], _parse(json.loads(response["SecretString"]))

    @staticmethod
    def _serialize(stored: list[StoredToken]) -> str:
        return json.dumps({"version": 1, "tokens": [t.to_json() for t in stored]})


def _parse(value: object) -> list[StoredToken]:
    if not isinstance(value, dict):
        return []
    return [StoredToken.from_json(entry) for entry in value.get("tokens", [])]
