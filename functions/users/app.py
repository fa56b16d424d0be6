"""SCIM Users: `/scim/v2/Users` and `/scim/v2/Users/{id}`."""

from provisioning.api.users import users_app
from provisioning.http.lambda_handler import lambda_handler_for

handler = lambda_handler_for(users_app())
