"""Per-organization request rates: one counter item per organization and ten-second window.

The authorizer admits each SCIM request through `RequestRates.admit`: one conditional UpdateItem
that counts the request in its organization's current window, refused once the window holds the
organization's limit (its rate per second times the window: a burst is fine, a sustained flood
is not). An organization that floods gets 429 with Retry-After (Entra and Okta back
off on it, where a 5xx would postpone objects for ~40 minutes), and since each organization has
its own counters, the others are not slowed. Counters expire with the table's TTL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from provisioning.store.dynamo import key, n

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

RATE_PREFIX = "RATE#"
WINDOW_SECONDS = 10
# A window's counter is kept a little while for diagnosis, then TTL removes it.
_COUNTER_LIFETIME_SECONDS = 3600


class RequestRates:
    """Fixed ten-second windows per organization, counted in the table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        per_second: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._per_window = per_second * WINDOW_SECONDS
        self._clock = clock

    def admit(self, org_id: str) -> int | None:
        """None when the request fits in the organization's current window; otherwise the whole
        seconds until the window ends (the Retry-After to send). A failure to count admits the
        request: the rate limit protects the service, and refusing every organization because
        the counter could not be written would make it the outage."""
        now = self._clock()
        window = math.floor(now / WINDOW_SECONDS)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(f"{RATE_PREFIX}{org_id}", str(window)),
                UpdateExpression=(
                    "ADD #count :one SET expiresAt = if_not_exists(expiresAt, :expires)"
                ),
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={
                    ":one": n(1),
                    ":limit": n(self._per_window),
                    ":expires": n(int(now) + _COUNTER_LIFETIME_SECONDS),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            logger.warning("request rate not counted", extra={"error": exc.response["Error"]})
        except BotoCoreError as exc:
            logger.warning("request rate not counted", extra={"error": type(exc).__name__})
        return None
