"""The purge worker: removes the memberships of a deleted group or user in bounded rounds.

A purge task item's INSERT on the table's stream triggers a round; a round removes at most
`ROUND_SIZE` memberships (each batch in a transaction with its events) and, if more remain,
writes the next round's task, whose INSERT triggers it in turn. Re-running a round is harmless:
it reads what is left and removes that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioning import clients
from provisioning.events.contract import GroupMembersChanged
from provisioning.kinds import GROUP_TYPE
from provisioning.settings import Settings, get_settings
from provisioning.store.memberships import Membership, MembershipStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore

ROUND_SIZE = 2_000


@dataclass(frozen=True)
class PurgeTask:
    """Which deleted resource's memberships to remove, and which round this is."""

    org_id: str
    target: str
    target_id: str
    round_number: int

    @classmethod
    def from_image(cls, image: dict[str, Any]) -> PurgeTask:
        """From a stream record's NewImage, as Powertools deserializes it."""
        return cls(
            org_id=str(image["orgId"]),
            target=str(image["target"]),
            target_id=str(image["targetId"]),
            round_number=int(image.get("round", 0)),
        )


class MembershipPurge:
    def __init__(
        self, memberships: MembershipStore, resources: ResourceStore, table_name: str
    ) -> None:
        self._memberships = memberships
        self._resources = resources
        self._table = table_name

    def run(self, task: PurgeTask) -> int:
        """One round; returns how many memberships it removed."""
        if task.target == GROUP_TYPE:
            batch = self._memberships.memberships_of_group(task.org_id, task.target_id, ROUND_SIZE)
            self._memberships.remove_many(
                task.org_id, batch, lambda chunk: self._group_event(task, chunk), reserved=1
            )
        else:
            # A deleted user's User.Deleted event already tells consumers everything.
            batch = self._memberships.memberships_of_user(task.org_id, task.target_id, ROUND_SIZE)
            self._memberships.remove_many(task.org_id, batch, lambda _chunk: [], reserved=0)
        done = self._memberships.task_done_item(
            task.org_id, task.target, task.target_id, task.round_number
        )
        follow_up = []
        if len(batch) == ROUND_SIZE:
            follow_up.append(
                self._memberships.purge_task_item(
                    task.org_id, task.target, task.target_id, task.round_number + 1
                )
            )
        self._resources.commit([done, *follow_up])
        return len(batch)

    def _group_event(self, task: PurgeTask, chunk: list[Membership]) -> list[Any]:
        event = GroupMembersChanged(
            org_id=task.org_id, group_id=task.target_id, removed=[m.user_id for m in chunk]
        )
        return [outbox_item(self._table, event)]


def membership_purge(settings: Settings | None = None) -> MembershipPurge:
    settings = settings or get_settings()
    client = clients.dynamodb()
    return MembershipPurge(
        MembershipStore(client, settings.table_name),
        ResourceStore(client, settings.table_name),
        settings.table_name,
    )
