"""The Lambda entry point every HTTP function shares: Mangum over the function's ASGI app, with
Powertools' structured logging (API Gateway request id as correlation id) and metrics.

No Powertools Tracer: creating one imports the X-Ray SDK and patches botocore, ~150 ms of every
cold start measured here (`make bench`), more than the rest of this wrapper. The template keeps
`Tracing: Active`, so X-Ray still records each invocation (its duration, cold start and errors)
without the SDK; what the SDK would add is a subsegment per DynamoDB call, and the DynamoDB calls
of every operation are counted by `make bench` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from provisioning.http.app import BASE_PATH, SCIM_CONTENT_TYPE, ScimApp
from provisioning.http.snapstart import reseed_after_restore

_logger = Logger(child=True)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

PROVISIONED_METRIC = "Provisioned"

# The SCIM writes counted as provisioning, by (HTTP method, route path under the base path). The
# route is API Gateway's route key (the template's path template), never the raw path, so an id
# or a client's typo cannot become a dimension value. POST on `/{id}` is `/.search`, a read.
WRITE_OPERATIONS: Mapping[tuple[str, str], str] = {
    ("POST", "/Users"): "CreateUser",
    ("PUT", "/Users/{id}"): "ReplaceUser",
    ("PATCH", "/Users/{id}"): "PatchUser",
    ("DELETE", "/Users/{id}"): "DeleteUser",
    ("POST", "/Groups"): "CreateGroup",
    ("PUT", "/Groups/{id}"): "ReplaceGroup",
    ("PATCH", "/Groups/{id}"): "PatchGroup",
    ("DELETE", "/Groups/{id}"): "DeleteGroup",
}


def write_operation(event: Mapping[str, Any]) -> str | None:
    """The provisioning operation an API Gateway (payload 2.0) event asks for, or None for a read
    or a route that is not SCIM."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    _, _, route = str(event.get("routeKey", "")).partition(" ")
    if not route.startswith(BASE_PATH):
        return None
    return WRITE_OPERATIONS.get((method, route.removeprefix(BASE_PATH)))


def _authorized_org(event: Mapping[str, Any]) -> str | None:
    authorizer = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    org_id = authorizer.get("orgId")
    return org_id if isinstance(org_id, str) and org_id else None


def count_provisioning(event: Mapping[str, Any], status: int) -> None:
    """One `Provisioned` count for a SCIM write that succeeded, per organization and operation.

    Each distinct combination of dimension values is a CloudWatch custom metric, billed monthly.
    orgId and operation in one dimension set would cost 8 metrics per organization; two sets,
    (service, operation) and (service, orgId), cost 8 in all plus 2 per organization (one per
    function, users and groups), and still chart the totals per organization and per operation.
    Every EMF record carries both values, so the per-organization, per-operation breakdown is a
    Logs Insights query (`stats sum(Provisioned) by orgId, operation`) rather than a metric.
    orgId is bounded by the organizations the admin API creates; user and group ids never
    become dimensions.
    """
    if not 200 <= status < 300:
        return
    operation = write_operation(event)
    org_id = _authorized_org(event)
    if operation is None or org_id is None:
        return
    # The write is committed: a failing metric must not turn its answer into a 5xx, which Entra
    # would postpone by 40 minutes and then re-send (a create would then meet a 409).
    try:
        # Its own EMF record: the function's shared Metrics carry only the service dimension.
        metric = EphemeralMetrics()
        metric.add_metric(name=PROVISIONED_METRIC, unit=MetricUnit.Count, value=1)
        metric.add_dimension(name="operation", value=operation)  # with service, added on flush
        service = metric.service
        metric.add_dimensions(
            **({"service": service, "orgId": org_id} if service else {"orgId": org_id})
        )
        metric.flush_metrics()
    except Exception:
        _logger.exception("provisioning metric not emitted", extra={"operation": operation})


def lambda_handler_for(app: ScimApp) -> LambdaHandler:
    """Wrap an app once per container; the returned function is the Lambda handler."""
    reseed_after_restore()  # the SCIM functions run with SnapStart (template.yaml)
    logger = Logger()
    metrics = Metrics()
    # Without text_mime_types Mangum base64-encodes application/scim+json responses.
    adapter = Mangum(app, lifespan="off", text_mime_types=["application/json", SCIM_CONTENT_TYPE])

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response: dict[str, Any] = adapter(event, cast(Any, context))
        status = int(response.get("statusCode", 500))
        metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
        count_provisioning(event, status)
        logger.info(
            "request served",
            extra={"route": event.get("routeKey"), "status": status},
        )
        return response

    return cast(LambdaHandler, handler)
