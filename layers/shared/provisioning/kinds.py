"""The SCIM resource types as the table and the events name them.

scim.resources binds these names to their models; the functions that never render SCIM (fan-out,
purge) and discovery use them from here, without loading scim2-models or the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioning.store.resources import StoredResource

USER_TYPE = "User"
GROUP_TYPE = "Group"


def user_is_active(user: StoredResource) -> bool:
    """A user without `active` is active (RFC 7643 §4.1.1 leaves it to the provider; Entra and
    Okta send it on every create)."""
    return user.body.get("active") is not False
