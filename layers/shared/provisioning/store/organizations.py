"""Organizations, workspaces and folders in the single table (the fan-out reads these keys).

All under the organization's partition `ORG#<org>`:
- organization  sk `ORGANIZATION`; `name`, the settings (`allowMembersToCreateWorkspaces`,
                `folderRevocation`), `version`, `createdAt`; GSI1 `ORGANIZATIONS` → `<org>`
                lists every organization in id order (an admin-plane read: organizations are
                few, so one index partition holds them)
- workspace     sk `Workspace#<id>`; `name`, `homeFolderId`, `createdBy` (absent when an admin
                created it), `createdAt`
- folder        sk `Folder#<id>`; `name`, `workspaceId`, `home`; GSI1
                `ORG#<org>#WORKSPACE#<workspace>#FOLDERS` → `<folder>` lists a workspace's folders
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from provisioning.access.errors import ConflictError, NotFoundError
from provisioning.access.model import (
    Folder,
    FolderRevocation,
    OrgSettings,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.admin.model import Organization
from provisioning.store.dynamo import (
    Item,
    MissingReferenceError,
    StaleVersionError,
    batch_get,
    fits_key,
    key,
    n,
    org_pk,
    query_items,
    s,
    transact,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

ORGANIZATION_SK = "ORGANIZATION"
ORGANIZATIONS_INDEX_PK = "ORGANIZATIONS"
WORKSPACE_PREFIX = "Workspace#"
FOLDER_PREFIX = "Folder#"


def workspace_sk(workspace_id: str) -> str:
    return f"{WORKSPACE_PREFIX}{workspace_id}"


def folder_sk(folder_id: str) -> str:
    return f"{FOLDER_PREFIX}{folder_id}"


def _target_sk(target: Target) -> str:
    if target.type is TargetKind.WORKSPACE:
        return workspace_sk(target.id)
    return folder_sk(target.id)


def folders_index_pk(org_id: str, workspace_id: str) -> str:
    return f"ORG#{org_id}#WORKSPACE#{workspace_id}#FOLDERS"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _settings_attributes(settings: OrgSettings) -> Item:
    return {
        "allowMembersToCreateWorkspaces": {"BOOL": settings.allow_members_to_create_workspaces},
        "folderRevocation": s(settings.folder_revocation.value),
    }


def _to_settings(item: Mapping[str, Any]) -> OrgSettings:
    """The stored settings; an attribute an older item lacks takes its default."""
    values: dict[str, Any] = {}
    if "allowMembersToCreateWorkspaces" in item:
        values["allow_members_to_create_workspaces"] = item["allowMembersToCreateWorkspaces"][
            "BOOL"
        ]
    if "folderRevocation" in item:
        values["folder_revocation"] = FolderRevocation(item["folderRevocation"]["S"])
    return OrgSettings(**values)


def _to_organization(org_id: str, item: Mapping[str, Any]) -> Organization:
    return Organization(
        id=org_id,
        name=item["name"]["S"],
        settings=_to_settings(item),
        version=int(item["version"]["N"]),
        created_at=item["createdAt"]["S"],
    )


def _workspace_item(org_id: str, workspace: Workspace) -> Item:
    item: Item = {
        **key(org_pk(org_id), workspace_sk(workspace.id)),
        "kind": s("Workspace"),
        "name": s(workspace.name),
        "homeFolderId": s(workspace.home_folder_id),
        "createdAt": s(_now()),
    }
    if workspace.created_by is not None:
        item["createdBy"] = s(workspace.created_by)
    return item


def _to_workspace(item: Mapping[str, Any]) -> Workspace:
    created_by = item.get("createdBy")
    return Workspace(
        id=item["sk"]["S"].removeprefix(WORKSPACE_PREFIX),
        name=item["name"]["S"],
        home_folder_id=item["homeFolderId"]["S"],
        created_by=created_by["S"] if created_by else None,
    )


def _folder_item(org_id: str, folder: Folder) -> Item:
    return {
        **key(org_pk(org_id), folder_sk(folder.id)),
        "kind": s("Folder"),
        "name": s(folder.name),
        "workspaceId": s(folder.workspace_id),
        "home": {"BOOL": folder.home},
        "createdAt": s(_now()),
        "gsi1pk": s(folders_index_pk(org_id, folder.workspace_id)),
        "gsi1sk": s(folder.id),
    }


def _to_folder(item: Mapping[str, Any]) -> Folder:
    return Folder(
        id=item["sk"]["S"].removeprefix(FOLDER_PREFIX),
        name=item["name"]["S"],
        workspace_id=item["workspaceId"]["S"],
        home=item["home"]["BOOL"],
    )


class OrganizationStore:
    """Reads and writes organizations, workspaces and folders; the only code that knows their
    items. Failed conditions come back as the access domain's errors (404, 409)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    # --- organizations -----------------------------------------------------------------------

    def create_organization(self, organization: Organization) -> None:
        """Put the organization item unless it exists (409: one organization per id)."""
        item: Item = {
            **key(org_pk(organization.id), ORGANIZATION_SK),
            "kind": s("Organization"),
            "name": s(organization.name),
            **_settings_attributes(organization.settings),
            "version": n(organization.version),
            "createdAt": s(organization.created_at),
            "gsi1pk": s(ORGANIZATIONS_INDEX_PK),
            "gsi1sk": s(organization.id),
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise ConflictError(f"organization {organization.id} already exists") from None

    def delete_organization(self, org_id: str) -> None:
        """Remove the organization item (undoing a creation whose token secret failed)."""
        self._client.delete_item(TableName=self._table, Key=key(org_pk(org_id), ORGANIZATION_SK))

    def list_organizations(
        self, limit: int, after: str | None = None
    ) -> tuple[list[Organization], str | None]:
        """Up to `limit` organizations in id order after `after`, and the id to go on after
        (None: no more). One Query on GSI1, asking for one more item than the page to tell."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": s(ORGANIZATIONS_INDEX_PK)},
            "Limit": limit + 1,
        }
        if after is not None:
            arguments["KeyConditionExpression"] += " AND gsi1sk > :after"
            arguments["ExpressionAttributeValues"][":after"] = s(after)
        items = list(islice(query_items(self._client, **arguments), limit + 1))
        found = [_to_organization(item["gsi1sk"]["S"], item) for item in items[:limit]]
        return found, found[-1].id if len(items) > limit else None

    def organization(self, org_id: str) -> Organization | None:
        item = self._get(org_pk(org_id), ORGANIZATION_SK)
        return _to_organization(org_id, item) if item else None

    def organization_exists(self, org_id: str) -> bool:
        return self._get(org_pk(org_id), ORGANIZATION_SK, projection="pk") is not None

    def settings(self, org_id: str) -> OrgSettings:
        """The organization's settings; the defaults while it has no organization item (one
        whose SCIM token predates the admin plane)."""
        item = self._get(org_pk(org_id), ORGANIZATION_SK)
        return _to_settings(item) if item else OrgSettings()

    def update_settings(
        self,
        org_id: str,
        allow_members_to_create_workspaces: bool | None = None,
        folder_revocation: FolderRevocation | None = None,
    ) -> Organization:
        """Change the given settings only, and bump the organization's version."""
        values: dict[str, AttributeValueTypeDef] = {":one": n(1)}
        assignments = ["version = version + :one"]
        if allow_members_to_create_workspaces is not None:
            assignments.append("allowMembersToCreateWorkspaces = :allow")
            values[":allow"] = {"BOOL": allow_members_to_create_workspaces}
        if folder_revocation is not None:
            assignments.append("folderRevocation = :revocation")
            values[":revocation"] = s(folder_revocation.value)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key(org_pk(org_id), ORGANIZATION_SK),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise NotFoundError(f"organization {org_id} does not exist") from None
        return _to_organization(org_id, response["Attributes"])

    # --- workspaces --------------------------------------------------------------------------

    def create_workspace(
        self,
        org_id: str,
        workspace: Workspace,
        home: Folder,
        creator_grant: Sequence[TransactWriteItemTypeDef] = (),
    ) -> None:
        """The workspace and its home folder in one transaction, in an existing organization.

        A member's workspace (`workspace.created_by`) also needs the organization to allow it,
        checked in the same transaction, and commits `creator_grant` (the member's access and
        its event) with it: a refusal or a failure leaves neither. A failed check is a 404
        naming the organization; the caller tells which check failed."""
        check = self._organization_check(org_id)
        if workspace.created_by is not None:
            check["ConditionCheck"]["ConditionExpression"] = (
                "attribute_exists(pk) AND (attribute_not_exists(allowMembersToCreateWorkspaces)"
                " OR allowMembersToCreateWorkspaces = :allowed)"
            )
            check["ConditionCheck"]["ExpressionAttributeValues"] = {":allowed": {"BOOL": True}}
        self._create(
            [
                check,
                self._put_new(_workspace_item(org_id, workspace)),
                self._put_new(_folder_item(org_id, home)),
                *creator_grant,
            ],
            missing=f"organization {org_id} does not exist",
            conflict=f"workspace {workspace.id} already exists",
        )

    def workspace(self, org_id: str, workspace_id: str) -> Workspace | None:
        if not fits_key(workspace_id):
            return None
        item = self._get(org_pk(org_id), workspace_sk(workspace_id))
        return _to_workspace(item) if item else None

    def workspaces(self, org_id: str, ids: Sequence[str]) -> dict[str, Workspace]:
        """The existing workspaces among `ids`, by id: BatchGetItem, 100 keys a call."""
        keys = [
            key(org_pk(org_id), workspace_sk(workspace_id))
            for workspace_id in dict.fromkeys(ids)
            if fits_key(workspace_id)
        ]
        found = (_to_workspace(item) for item in batch_get(self._client, self._table, keys))
        return {workspace.id: workspace for workspace in found}

    def list_workspaces(self, org_id: str) -> list[Workspace]:
        """The organization's workspaces in id order: one Query in its partition."""
        items = query_items(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": s(org_pk(org_id)), ":prefix": s(WORKSPACE_PREFIX)},
        )
        return [_to_workspace(item) for item in items]

    def rename_workspace(self, org_id: str, workspace_id: str, name: str) -> Workspace:
        item = self._rename(org_id, workspace_sk(workspace_id), name, f"workspace {workspace_id}")
        return _to_workspace(item)

    def delete_workspace(
        self, org_id: str, workspace_id: str, event: TransactWriteItemTypeDef
    ) -> None:
        """The workspace item and its Workspace.Deleted event in one transaction. Its folders
        stay until the fan-out applies the event (their workspace's absence already refuses
        new folders in it)."""
        self._delete(
            org_id,
            workspace_sk(workspace_id),
            "attribute_exists(pk)",
            event,
            f"workspace {workspace_id} not found",
        )

    # --- folders -----------------------------------------------------------------------------

    def rename_folder(self, org_id: str, folder_id: str, name: str) -> Folder:
        return _to_folder(self._rename(org_id, folder_sk(folder_id), name, f"folder {folder_id}"))

    def delete_folder(self, org_id: str, folder_id: str, event: TransactWriteItemTypeDef) -> None:
        """A folder that is not a home folder, with its Folder.Deleted event, in one
        transaction; 404 for a folder that does not exist or is a home folder (the caller read
        it and tells which)."""
        self._delete(
            org_id,
            folder_sk(folder_id),
            "attribute_exists(pk) AND #home = :no",
            event,
            f"folder {folder_id} not found",
        )

    def delete_folder_item(self, org_id: str, folder_id: str) -> None:
        """Remove a folder of a deleted workspace (idempotent)."""
        self._client.delete_item(
            TableName=self._table, Key=key(org_pk(org_id), folder_sk(folder_id))
        )

    def create_folder(self, org_id: str, folder: Folder) -> None:
        """A folder in an existing workspace."""
        self._create(
            [
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": key(org_pk(org_id), workspace_sk(folder.workspace_id)),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                self._put_new(_folder_item(org_id, folder)),
            ],
            missing=f"workspace {folder.workspace_id} does not exist",
            conflict=f"folder {folder.id} already exists",
        )

    def folder(self, org_id: str, folder_id: str) -> Folder | None:
        if not fits_key(folder_id):
            return None
        item = self._get(org_pk(org_id), folder_sk(folder_id))
        return _to_folder(item) if item else None

    def folders_of(self, org_id: str, workspace_id: str) -> list[Folder]:
        """A workspace's folders in id order: one Query on GSI1."""
        if not fits_key(workspace_id):
            return []
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": s(folders_index_pk(org_id, workspace_id))},
        )
        return [_to_folder(item) for item in items]

    # --- targets -----------------------------------------------------------------------------

    def existing_targets(self, org_id: str, targets: Sequence[Target]) -> set[Target]:
        """The targets among `targets` whose workspace or folder exists: strongly consistent
        BatchGetItem (a workspace created a moment ago must count), 100 keys a call."""
        wanted = {(org_pk(org_id), _target_sk(t)): t for t in targets if fits_key(t.id)}
        keys = [key(pk, sk) for pk, sk in wanted]
        items = batch_get(self._client, self._table, keys, "pk, sk", consistent=True)
        return {wanted[(item["pk"]["S"], item["sk"]["S"])] for item in items}

    def target_check(self, org_id: str, target: Target) -> TransactWriteItemTypeDef:
        """A transaction item that fails unless the workspace or folder exists."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), _target_sk(target)),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }

    # --- plumbing ----------------------------------------------------------------------------

    def _rename(self, org_id: str, sk: str, name: str, what: str) -> Item:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key(org_pk(org_id), sk),
                UpdateExpression="SET #name = :name",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={":name": s(name)},
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise NotFoundError(f"{what} not found") from None
        return response["Attributes"]

    def _delete(
        self,
        org_id: str,
        sk: str,
        condition: str,
        event: TransactWriteItemTypeDef,
        missing: str,
    ) -> None:
        delete: Any = {
            "TableName": self._table,
            "Key": key(org_pk(org_id), sk),
            "ConditionExpression": condition,
        }
        if "#home" in condition:
            delete["ExpressionAttributeNames"] = {"#home": "home"}
            delete["ExpressionAttributeValues"] = {":no": {"BOOL": False}}
        try:
            transact(self._client, [{"Delete": delete}, event])
        except StaleVersionError:
            raise NotFoundError(missing) from None

    def _get(self, pk: str, sk: str, projection: str | None = None) -> Item | None:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": key(pk, sk),
            "ConsistentRead": True,
        }
        if projection:
            arguments["ProjectionExpression"] = projection
        item: Item | None = self._client.get_item(**arguments).get("Item")
        return item

    def _organization_check(self, org_id: str) -> TransactWriteItemTypeDef:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), ORGANIZATION_SK),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }

    def _put_new(self, item: Item) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _create(
        self, items: Sequence[TransactWriteItemTypeDef], missing: str, conflict: str
    ) -> None:
        """Run a creating transaction: a failed existence check is a 404, an existing item 409."""
        try:
            transact(self._client, items)
        except MissingReferenceError:
            raise NotFoundError(missing) from None
        except StaleVersionError:
            raise ConflictError(conflict) from None
