"""Per-organization request rates (moto): a ten-second window admits ten times the rate per
second, then says when to retry."""

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
    return Clock(1_800_000_002.25)  # 2.25 s into a ten-second window


@pytest.fixture
def rates(stack, clock) -> RequestRates:
    return RequestRates(clients.dynamodb(), get_settings().table_name, 2, clock)


def test_a_window_admits_the_limit_then_gives_the_seconds_to_its_end(rates, clock):
    assert [rates.admit("contoso") for _ in range(20)] == [None] * 20
    assert rates.admit("contoso") == 8  # 7.75 s left, rounded up
    clock.now += 7.5
    assert rates.admit("contoso") == 1
    clock.now += 0.3  # the next window
    assert rates.admit("contoso") is None


def test_each_organization_has_its_own_windows(rates):
    for _ in range(20):
        rates.admit("contoso")
    assert rates.admit("contoso") is not None
    assert rates.admit("fabrikam") is None


def test_counters_live_in_their_own_partition_and_expire(rates, clock):
    rates.admit("contoso")
    item = clients.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": "RATE#contoso"}, "sk": {"S": str(int(clock.now // 10))}},
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
