"""Persistence: the only package that builds DynamoDB keys and calls DynamoDB."""
