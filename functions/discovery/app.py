"""SCIM discovery: ServiceProviderConfig, ResourceTypes and Schemas."""

from provisioning.api.discovery import discovery_app
from provisioning.http.lambda_handler import lambda_handler_for

handler = lambda_handler_for(discovery_app())
