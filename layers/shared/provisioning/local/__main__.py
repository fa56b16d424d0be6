"""`make run`: the stack on 127.0.0.1:$PORT with a `demo` organization, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from provisioning.auth.tokens import organization_of
from provisioning.local.stack import LocalStack

DEMO_ORG = "demo"


def main() -> int:
    """Start, print the SCIM URL and token, serve until asked to stop; 0 on a clean stop."""
    # Our one line per request; other libraries (botocore, moto) only when something is wrong.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("provisioning.local").setLevel(logging.INFO)
    port = int(os.environ.get("PORT", "8000"))
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    demo_token = os.environ.get("SCIM_DEMO_TOKEN") or None
    if demo_token is not None and organization_of(demo_token) != DEMO_ORG:
        print(
            "SCIM_DEMO_TOKEN must be a token of the demo organization: scim_demo_ followed by at "
            "least 43 URL-safe characters (256 bits), e.g.\n  export SCIM_DEMO_TOKEN=scim_demo_"
            '$(python3 -c "import secrets; print(secrets.token_urlsafe(32))")',
            file=sys.stderr,
        )
        return 2
    with LocalStack.start() as stack:
        token = stack.create_organization(DEMO_ORG, token=demo_token)
        try:
            base_url = stack.serve(host="127.0.0.1", port=port)
        except OSError as exc:
            print(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"SCIM URL: {base_url}/scim/v2", flush=True)
        print(f"SCIM token: {token}", flush=True)
        while not stop.wait(0.5):
            pass
        logging.getLogger("provisioning.local").info("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
