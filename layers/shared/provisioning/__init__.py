"""Shared domain package of the SCIM provisioning service.

One place per concept: `scim/` (models, queries, errors), `store/` (the only code that talks to
DynamoDB), `auth/` (tokens), `http/` (ASGI plumbing), `api/` (the SCIM endpoints per function).
"""
