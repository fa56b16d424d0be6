"""`make invoke FN=users EVENT=events/users_get.json`: one handler, one event, on moto.

What `sam local invoke` does with Docker, without it: the template's function (its code folder,
handler, environment and Globals) runs once on the event, in a moto world holding the template's
table, bus and queues, and its JSON result is printed on stdout (logs go to stderr). A bearer
token the event carries (`scim_<org>_<secret>`) is registered for its organization first, so the
sample events authenticate; nothing downstream (stream, bus, fan-out) runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from provisioning.auth.authorizer import bearer_token
from provisioning.auth.tokens import organization_of
from provisioning.local.lambdas import FunctionError
from provisioning.local.stack import LocalStack, find_repo_root


def function_id(name: str, functions: Mapping[str, Any]) -> str:
    """The template's logical id for `name`: the id itself (`UsersFunction`), or the function's
    code folder (`users`), in any case."""
    for logical_id, spec in functions.items():
        if name.casefold() in {logical_id.casefold(), spec.code_dir.name.casefold()}:
            return logical_id
    known = ", ".join(sorted(spec.code_dir.name for spec in functions.values()))
    raise SystemExit(f"no function {name!r} in the template (one of: {known})")


def carried_tokens(event: Any) -> Iterator[tuple[str, str]]:
    """(organization, token) of the SCIM bearer token in an API Gateway or authorizer event."""
    token = bearer_token(event.get("headers")) if isinstance(event, dict) else None
    org_id = organization_of(token) if token else None
    if token and org_id:
        yield org_id, token


def invoke(stack: LocalStack, name: str, event: Any) -> Any:
    """The handler's result for `event`, after registering the token it carries."""
    for org_id, token in carried_tokens(event):
        stack.create_organization(org_id, token=token)
    return stack.runtime.invoke(function_id(name, stack.runtime.functions), event)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id (UsersFunction) or code folder (users)")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/users_get.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    # The function's own output (Powertools logs and metrics) goes to stderr, as Lambda's would
    # go to CloudWatch: stdout carries the result alone, ready for `jq`.
    with contextlib.redirect_stdout(sys.stderr), LocalStack.start(find_repo_root()) as stack:
        try:
            result = invoke(stack, args.function, event)
        except FunctionError as exc:
            print(f"{exc}", file=sys.stderr)
            return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
