"""The Lambda entry point every HTTP function shares: Mangum over the function's ASGI app, with
Powertools' structured logging (API Gateway request id as correlation id), tracing and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from provisioning.http.app import SCIM_CONTENT_TYPE, ScimApp

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_handler_for(app: ScimApp) -> LambdaHandler:
    """Wrap an app once per container; the returned function is the Lambda handler."""
    logger = Logger()
    tracer = Tracer()
    metrics = Metrics()
    # Without text_mime_types Mangum base64-encodes application/scim+json responses.
    adapter = Mangum(app, lifespan="off", text_mime_types=["application/json", SCIM_CONTENT_TYPE])

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response: dict[str, Any] = adapter(event, cast(Any, context))
        status = int(response.get("statusCode", 500))
        metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
        logger.info(
            "request served",
            extra={"route": event.get("routeKey"), "status": status},
        )
        return response

    return cast(LambdaHandler, handler)
