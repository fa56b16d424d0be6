"""The SCIM endpoints, one module per Lambda function; each builds that function's ASGI app."""
