"""Lambda authorizer: turns the SCIM bearer token into the caller's organization."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioning import clients
from provisioning.auth.authorizer import decide
from provisioning.auth.tokens import TokenService
from provisioning.settings import get_settings
from provisioning.store.rates import RequestRates

logger = Logger()
settings = get_settings()
tokens = TokenService(
    clients.secrets_manager(),
    settings.token_secret_prefix,
    cache_seconds=settings.token_cache_seconds,
)
rates = RequestRates(clients.dynamodb(), settings.table_name, settings.org_requests_per_second)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    decision = decide(event, tokens, rates)
    verdict = decision["context"]
    logger.info(
        "authorized",
        extra={"orgId": verdict.get("orgId"), "throttled": "retryAfter" in verdict},
    )
    return decision
