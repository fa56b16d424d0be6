"""Ops command line for organization tokens, against the Secrets Manager of your AWS credentials.

    python -m provisioning.auth create-organization <org-id>
    python -m provisioning.auth rotate-token <org-id> [--grace-hours 24]

Each prints the new token once; only its SHA-256 digest is stored.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from provisioning import clients
from provisioning.auth.tokens import (
    InvalidOrganizationIdError,
    OrganizationExistsError,
    TokenService,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.auth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-organization", help="create an organization's token")
    create.add_argument("org_id")
    rotate = commands.add_parser("rotate-token", help="issue a new token, keep the old one a while")
    rotate.add_argument("org_id")
    rotate.add_argument("--grace-hours", type=float, default=24.0)
    arguments = parser.parse_args(argv)

    tokens = TokenService(
        clients.secrets_manager(), os.environ.get("TOKEN_SECRET_PREFIX", "scim/orgs/")
    )
    try:
        if arguments.command == "create-organization":
            token = tokens.create_organization(arguments.org_id)
        else:
            token = tokens.rotate(arguments.org_id, timedelta(hours=arguments.grace_hours))
    except (InvalidOrganizationIdError, OrganizationExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
