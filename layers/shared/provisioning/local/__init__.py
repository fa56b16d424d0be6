"""The local stack: the template's API Gateway, authorizer and functions served on moto.

Development and test tooling only (it imports moto and PyYAML); never imported by a deployed
function.
"""

from provisioning.local.event_sources import EventSourcesNotQuiescentError, FailedBatch
from provisioning.local.gateway import HttpRequest, HttpResponse, LocalGateway
from provisioning.local.stack import LocalStack

__all__ = [
    "EventSourcesNotQuiescentError",
    "FailedBatch",
    "HttpRequest",
    "HttpResponse",
    "LocalGateway",
    "LocalStack",
]
