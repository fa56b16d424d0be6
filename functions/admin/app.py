"""Admin API: `/admin/*` (IAM-authorized) for organizations, tokens, workspaces, folders, access."""

from provisioning.api.admin import admin_app
from provisioning.http.lambda_handler import lambda_handler_for

handler = lambda_handler_for(admin_app())
