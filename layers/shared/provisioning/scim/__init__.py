"""SCIM 2.0 (RFC 7643/7644) on top of scim2-models: resource types, queries, errors."""
