"""`make run`: the stack on 127.0.0.1:$PORT with a `demo` organization (two workspaces, each with
its home folder and one more folder), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from provisioning.access.model import Folder, Workspace
from provisioning.access.service import AccessService
from provisioning.admin.cli import DEFAULT_URL, URL_VARIABLE
from provisioning.admin.service import AdminService
from provisioning.auth.tokens import organization_of
from provisioning.local.stack import LocalStack

DEMO_ORG = "demo"
# Each demo workspace and the folder it gets besides its home folder.
DEMO_WORKSPACES = (("Engineering", "Roadmap"), ("Sales", "Accounts"))


def seed_demo(token: str | None) -> tuple[str, list[tuple[Workspace, Folder]]]:
    """The demo organization, through the admin service as the admin API would create it;
    returns its SCIM token and its workspaces with their extra folder."""
    admin = AdminService.build(AccessService.build())
    _organization, issued = admin.create_organization(DEMO_ORG, "Demo", token=token)
    workspaces = []
    for name, folder_name in DEMO_WORKSPACES:
        workspace, _home = admin.create_workspace(DEMO_ORG, name)
        workspaces.append((workspace, admin.create_folder(DEMO_ORG, workspace.id, folder_name)))
    return issued, workspaces


def print_demo(admin_url: str, workspaces: list[tuple[Workspace, Folder]]) -> None:
    print(f"Admin URL: {admin_url} (loopback only)")
    for workspace, folder in workspaces:
        print(
            f"Workspace {workspace.name}: {workspace.id} (home folder {workspace.home_folder_id}, "
            f"folder {folder.name} {folder.id})"
        )
    first, folder = workspaces[0]
    prefix = "" if admin_url == DEFAULT_URL else f"{URL_VARIABLE}={admin_url} "
    print("Try:")
    for command in (
        f"workspace list --org {DEMO_ORG}",
        f"access set --org {DEMO_ORG} --group GROUP_ID --workspace {first.id} --level editor",
        f"access show --org {DEMO_ORG} --user USER_ID",
        f"access explain --org {DEMO_ORG} --user USER_ID --folder {folder.id}",
    ):
        print(f"  {prefix}.venv/bin/scimctl {command}")


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
        token, workspaces = seed_demo(demo_token)
        try:
            base_url = stack.serve(host="127.0.0.1", port=port)
        except OSError as exc:
            print(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"SCIM URL: {base_url}/scim/v2", flush=True)
        print(f"SCIM token: {token}")
        print_demo(f"{base_url}/admin", workspaces)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
        logging.getLogger("provisioning.local").info("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
