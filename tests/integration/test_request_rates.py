"""Per-organization request rates (moto): a window admits the limit, then says when to retry."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from provisioning import clients
from provisioning.settings import get_settings
from provisioning.store.rates import RequestRates


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.25)


@pytest.fixture
def rates(stack, clock) -> RequestRates:
    return RequestRates(clients.dynamodb(), get_settings().table_name, 3, clock)


def test_a_window_admits_the_limit_then_gives_the_seconds_to_its_end(rates, clock):
    assert [rates.admit("contoso") for _ in range(3)] == [None, None, None]
    assert rates.admit("contoso") == 1
    clock.now += 0.5
    assert rates.admit("contoso") == 1
    clock.now += 0.3  # the next second: a new window
    assert rates.admit("contoso") is None


def test_each_organization_has_its_own_windows(rates):
    for _ in range(3):
        rates.admit("contoso")
    assert rates.admit("contoso") == 1
    assert rates.admit("fabrikam") is None


def test_counters_live_in_their_own_partition_and_expire(rates, clock):
    rates.admit("contoso")
    item = clients.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": "RATE#contoso"}, "sk": {"S": str(int(clock.now))}},
    )["Item"]
    assert item["count"] == {"N": "1"}
    assert int(item["expiresAt"]["N"]) > clock.now


def test_a_counter_that_cannot_be_written_admits_the_request(stack, clock):
    """Throttling of the counter itself must not turn into an outage for every organization."""
    class Failing:
        def update_item(self, **_):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )

    rates = RequestRates(Failing(), get_settings().table_name, 1, clock)  # type: ignore[arg-type]
    assert [rates.admit("contoso") for _ in range(3)] == [None, None, None]
