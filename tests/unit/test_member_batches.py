"""How member changes are split into DynamoDB transactions (100 items at most each)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from provisioning.store.memberships import MemberBatch, plan_batches

ids = st.lists(st.uuids().map(str), unique=True, max_size=300)


def test_a_change_that_fits_is_one_batch() -> None:
    assert plan_batches(["a", "b"], ["c"], budget=5) == [MemberBatch(["a", "b"], ["c"])]


def test_an_addition_costs_two_items_its_membership_and_its_user_check() -> None:
    assert plan_batches(["a", "b", "c"], [], budget=4) == [
        MemberBatch(["a", "b"], []),
        MemberBatch(["c"], []),
    ]


def test_no_change_is_one_empty_batch() -> None:
    assert plan_batches([], [], budget=10) == [MemberBatch([], [])]


@given(ids, ids, st.integers(min_value=2, max_value=98))
def test_batches_keep_every_change_in_order_within_the_budget(
    added: list[str], removed: list[str], budget: int
) -> None:
    batches = plan_batches(added, removed, budget)
    assert all(batch.cost <= budget for batch in batches)
    assert [u for b in batches for u in b.added] == added
    assert [u for b in batches for u in b.removed] == removed
    assert all(batch.added or batch.removed for batch in batches) or len(batches) == 1
