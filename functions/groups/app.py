"""SCIM Groups: `/scim/v2/Groups` and `/scim/v2/Groups/{id}`."""

from provisioning.api.groups import groups_app
from provisioning.http.lambda_handler import lambda_handler_for

handler = lambda_handler_for(groups_app())
