"""The bare handler `make bench` holds every function's cold import against (issue 11): boto3
and Powertools' Logger, nothing of ours."""

from typing import Any

import boto3  # noqa: F401 - imported for its cost, as every function's INIT does
from aws_lambda_powertools import Logger

logger = Logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}
