"""`scimctl`: the admin API from a shell, for ops and organization admins.

It talks HTTP to `--url` (or `SCIMCTL_URL`; default: the local stack of `make run`). Requests to
anything but a loopback address are signed with SigV4 for API Gateway's IAM authorization
(`execute-api`), with the credentials of the default AWS session. Output is for people unless
`--json` asks for the API's JSON; errors print the API's message and exit non-zero.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_URL = "http://127.0.0.1:8000/admin"
URL_VARIABLE = "SCIMCTL_URL"
TIMEOUT_SECONDS = 30
# API Gateway's authorizer cache (300 s) plus the authorizer's own digest cache (30 s).
REVOCATION_DELAY = "about 5.5 minutes"
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")

Json = Any
Render = Callable[[Json], str]


class CliError(Exception):
    """A failure to show the user as it is (the API's message, or why it could not be reached)."""


@dataclass(frozen=True)
class Call:
    """One admin API request a command makes, and how its answer is shown to a person."""

    method: str
    path: str
    render: Render
    body: Mapping[str, Any] | None = None


# --- HTTP --------------------------------------------------------------------------------------


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sigv4_headers(method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of the request signed for API Gateway's IAM authorization."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    session = Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError("no AWS credentials found to sign the request (see `aws configure`)")
    found = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    region = found.group(1) if found else session.get_config_variable("region")
    if not region:
        raise CliError("cannot tell the API's AWS region: set AWS_REGION")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def send(base_url: str, method: str, path: str, body: Mapping[str, Any] | None) -> Json:
    """One request to the admin API; its JSON answer, or CliError with the API's message."""
    url = base_url.rstrip("/") + path
    payload = json.dumps(body).encode() if body is not None else b""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if not is_loopback(url):
        headers = sigv4_headers(method, url, payload, headers)
    request = urllib.request.Request(  # noqa: S310 - the URL is the admin's own API
        url, data=payload if body is not None else None, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            text = response.read()
    except urllib.error.HTTPError as error:
        raise CliError(_error_message(error)) from None
    except urllib.error.URLError as error:
        raise CliError(f"cannot reach {base_url}: {error.reason}") from None
    return json.loads(text) if text else None


def _error_message(error: urllib.error.HTTPError) -> str:
    text = error.read().decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        # The admin API's {"error", "message"}; API Gateway's own refusals are {"message"}.
        message = answer.get("message") or answer.get("error")
        if message:
            return f"{message} (HTTP {error.code})"
    return f"HTTP {error.code} {error.reason}"


# --- rendering ---------------------------------------------------------------------------------


def _lines(*lines: str) -> str:
    return "\n".join(lines)


def _organization(org: Json) -> str:
    return _lines(
        f"organization {org['id']} ({org['name']}), created {org['createdAt']}",
        _settings(org["settings"]),
    )


def _organization_line(org: Json) -> str:
    return f"{org['id']}  {org['name']}  (created {org['createdAt']})"


def _organization_page(answer: Json) -> str:
    lines = [_organization_line(org) for org in answer["organizations"]] or ["no organizations"]
    if answer["next"]:
        lines.append(f"more: scimctl org list --after {answer['next']}")
    return _lines(*lines)


def _created_organization(answer: Json) -> str:
    return _lines(
        _organization(answer["organization"]),
        "SCIM token (shown this once; paste it into your identity provider now):",
        answer["token"],
    )


def _rotated(answer: Json) -> str:
    grace = answer["graceHours"]
    previous = (
        f"previous tokens stop working within {REVOCATION_DELAY} (API Gateway caches tokens)"
        if grace == 0
        else f"previous tokens stay valid for {grace:g} hours"
    )
    return _lines("new SCIM token (shown this once):", answer["token"], previous)


def _settings(settings: Json) -> str:
    return "\n".join(
        f"{name}: {value if isinstance(value, str) else json.dumps(value)}"
        for name, value in settings.items()
    )


def _workspace(workspace: Json) -> str:
    creator = f", created by user {workspace['createdBy']}" if workspace["createdBy"] else ""
    return (
        f"{workspace['id']}  {workspace['name']}  (home folder {workspace['homeFolderId']}"
        f"{creator})"
    )


def _folder(folder: Json) -> str:
    home = "  (home)" if folder["home"] else ""
    return f"{folder['id']}  {folder['name']}  in workspace {folder['workspaceId']}{home}"


def _each(key: str, render: Render, empty: str) -> Render:
    def listing(answer: Json) -> str:
        items = answer[key]
        return "\n".join(render(item) for item in items) if items else empty

    return listing


def _target(target: Json) -> str:
    return f"{target['type']} {target['id']}"


def _source(source: Json) -> str:
    via = f" via {_target(source['via'])}" if source.get("via") else ""
    origin = {
        "group": f"group {source.get('groupId')}{via}",
        "direct": "granted directly",
        "retained": f"kept from group {source.get('groupId')}{via} (folderRevocation: manual)",
    }[source["type"]]
    return f"  {source['level']:<8} {origin}"


def _record(record: Json) -> str:
    level = record["level"] or "no access"
    state = "" if record["active"] else "  (suspended: the user is deactivated)"
    head = f"user {record['userId']}  {_target(record['target'])}: {level}{state}"
    return _lines(head, *(_source(source) for source in record["sources"]))


def _grant(grant: Json) -> str:
    return f"group {grant['groupId']}: {grant['level']} on {_target(grant['target'])}"


def _done(message: str) -> Render:
    return lambda _answer: message


# --- commands ----------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return quote(value, safe="")


def _org(args: argparse.Namespace) -> str:
    return f"/orgs/{_segment(args.org)}"


def _target_path(args: argparse.Namespace) -> str:
    kind, target_id = ("workspace", args.workspace) if args.workspace else ("folder", args.folder)
    return f"{kind}/{_segment(target_id)}"


def _subject_path(args: argparse.Namespace) -> str:
    if args.group:
        return f"{_org(args)}/groups/{_segment(args.group)}"
    return f"{_org(args)}/users/{_segment(args.user)}"


def _org_create(args: argparse.Namespace) -> Call:
    body = {"id": args.org_id, **({"name": args.name} if args.name else {})}
    return Call("POST", "/orgs", _created_organization, body)


def _org_list(args: argparse.Namespace) -> Call:
    query = {"limit": str(args.limit), **({"after": args.after} if args.after else {})}
    return Call("GET", f"/orgs?{urlencode(query)}", _organization_page)


def _org_show(args: argparse.Namespace) -> Call:
    return Call("GET", _org(args), _organization)


def _token_rotate(args: argparse.Namespace) -> Call:
    body = {} if args.grace_hours is None else {"graceHours": args.grace_hours}
    return Call("POST", f"{_org(args)}/token/rotate", _rotated, body)


def _settings_show(args: argparse.Namespace) -> Call:
    return Call("GET", f"{_org(args)}/settings", _settings)


def _settings_set(args: argparse.Namespace) -> Call:
    body: dict[str, Any] = {}
    if args.allow_members_to_create_workspaces is not None:
        body["allowMembersToCreateWorkspaces"] = args.allow_members_to_create_workspaces == "true"
    if args.folder_revocation is not None:
        body["folderRevocation"] = args.folder_revocation
    if not body:
        raise CliError(
            "nothing to set: give --allow-members-to-create-workspaces or --folder-revocation"
        )
    return Call("PATCH", f"{_org(args)}/settings", _settings, body)


def _workspace_create(args: argparse.Namespace) -> Call:
    body = {"name": args.name, **({"createdBy": args.created_by} if args.created_by else {})}
    return Call("POST", f"{_org(args)}/workspaces", _workspace, body)


def _workspace_list(args: argparse.Namespace) -> Call:
    return Call("GET", f"{_org(args)}/workspaces", _each("workspaces", _workspace, "no workspaces"))


def _workspace_rename(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/workspaces/{_segment(args.workspace)}"
    return Call("PATCH", path, _workspace, {"name": args.name})


def _workspace_delete(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/workspaces/{_segment(args.workspace)}"
    return Call(
        "DELETE",
        path,
        _done("deleted; its folders, grants and access are being removed"),
    )


def _folder_rename(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/folders/{_segment(args.folder)}"
    return Call("PATCH", path, _folder, {"name": args.name})


def _folder_delete(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/folders/{_segment(args.folder)}"
    return Call("DELETE", path, _done("deleted; its grants and access are being removed"))


def _folder_create(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/workspaces/{_segment(args.workspace)}/folders"
    return Call("POST", path, _folder, {"name": args.name})


def _folder_list(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/workspaces/{_segment(args.workspace)}/folders"
    return Call("GET", path, _each("folders", _folder, "no folders"))


def _access_set(args: argparse.Namespace) -> Call:
    path = f"{_subject_path(args)}/grants/{_target_path(args)}"
    return Call("PUT", path, _grant if args.group else _record, {"level": args.level})


def _access_remove(args: argparse.Namespace) -> Call:
    path = f"{_subject_path(args)}/grants/{_target_path(args)}"
    return Call("DELETE", path, _done("removed"))


def _access_grants(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/groups/{_segment(args.group)}/grants"
    return Call("GET", path, _each("grants", _grant, "no grants"))


def _access_show(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/users/{_segment(args.user)}/access"
    return Call("GET", path, _each("access", _record, "no access"))


def _access_explain(args: argparse.Namespace) -> Call:
    path = f"{_org(args)}/users/{_segment(args.user)}/access/{_target_path(args)}"
    return Call("GET", path, _record)


def _access_who(args: argparse.Namespace) -> Call:
    kind, target_id = _target_path(args).split("/", 1)
    path = f"{_org(args)}/{kind}s/{target_id}/access"
    users, groups = _each("access", _record, "nobody"), _each("groups", _grant, "no group")
    return Call("GET", path, lambda answer: _lines(groups(answer), users(answer)))


# --- consistency check ------------------------------------------------------------------------

# The exit status when the check leaves violations (1 is a refusal or an unreachable API).
VIOLATIONS_REMAIN = 2


def _violation(violation: Json) -> str:
    item = violation["item"]
    state = "  [repaired]" if violation["repaired"] else ""
    return f"{violation['kind']}  {item['pk']} / {item['sk']}: {violation['truth']}{state}"


def _check_summary(summary: Mapping[str, Mapping[str, int]], repair: bool) -> str:
    if not summary:
        return "consistent: no violation found"
    lines = []
    for kind in sorted(summary):
        counts = summary[kind]
        repaired = f", {counts['repaired']} repaired" if repair else ""
        lines.append(f"  {kind}: {counts['found']}{repaired}")
    return _lines("violations:", *lines)


def _check(args: argparse.Namespace) -> int:
    """Run the organization's check to its end, following the API's cursor from request to
    request; print each violation and a summary per kind. Exit status 2 while violations remain
    (with --repair: those the repair could not fix)."""
    path = f"{_org(args)}/check/repair" if args.repair else f"{_org(args)}/check"
    method = "POST" if args.repair else "GET"
    cursor: str | None = None
    summary: dict[str, dict[str, int]] = {}
    pages: list[Json] = []
    unverified: list[str] = []
    while True:
        query = {
            **({"cursor": cursor} if cursor else {}),
            **({"maxSeconds": str(args.max_seconds)} if args.max_seconds else {}),
        }
        answer = send(args.url, method, f"{path}?{urlencode(query)}" if query else path, None)
        pages.append(answer)
        for violation in answer["violations"]:
            if not args.json:
                print(_violation(violation))
        for kind, counts in answer["summary"].items():
            total = summary.setdefault(kind, {"found": 0, "repaired": 0})
            total["found"] += counts["found"]
            total["repaired"] += counts["repaired"]
        unverified += answer["unverified"]
        cursor = answer["next"]
        if cursor is None:
            break
    if args.json:
        violations = [v for page in pages for v in page["violations"]]
        print(json.dumps({"violations": violations, "summary": summary}, indent=2))
    else:
        print(_check_summary(summary, args.repair))
        for note in unverified:
            print(f"not verified: {note}")
    remaining = sum(c["found"] - (c["repaired"] if args.repair else 0) for c in summary.values())
    return VIOLATIONS_REMAIN if remaining else 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE, DEFAULT_URL),
        help=f"the admin API's base URL (env {URL_VARIABLE}; default {DEFAULT_URL})",
    )
    common.add_argument("--json", action="store_true", help="print the API's JSON answer")

    parser = argparse.ArgumentParser(
        prog="scimctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    topics = parser.add_subparsers(dest="topic", required=True)

    def command(
        topic: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        build: Callable[[argparse.Namespace], Call],
        summary: str,
        org: bool = True,
    ) -> argparse.ArgumentParser:
        sub = topic.add_parser(name, parents=[common], help=summary, description=summary)
        sub.set_defaults(build=build)
        if org:
            sub.add_argument("--org", required=True, help="the organization id")
        return sub

    def topic(name: str, summary: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return topics.add_parser(name, help=summary).add_subparsers(dest="command", required=True)

    def target(sub: argparse.ArgumentParser) -> None:
        choice = sub.add_mutually_exclusive_group(required=True)
        choice.add_argument("--workspace", help="a workspace id")
        choice.add_argument("--folder", help="a folder id")

    def subject(sub: argparse.ArgumentParser) -> None:
        choice = sub.add_mutually_exclusive_group(required=True)
        choice.add_argument("--group", help="a SCIM group id")
        choice.add_argument("--user", help="a SCIM user id")

    org = topic("org", "organizations")
    create = command(
        org, "create", _org_create, "create an organization; prints its token once", org=False
    )
    create.add_argument("org_id", metavar="ORG", help="2-63 of a-z, 0-9 and '-'")
    create.add_argument("--name", help="a display name (default: the id)")
    command(org, "show", _org_show, "show an organization and its settings")
    listing = command(org, "list", _org_list, "list organizations in id order", org=False)
    listing.add_argument(
        "--limit", type=int, default=100, help="organizations per page (1-200, default 100)"
    )
    listing.add_argument("--after", metavar="ORG", help="start after this organization id")

    token = topic("token", "SCIM tokens")
    rotate = command(
        token,
        "rotate",
        _token_rotate,
        "issue a new token; the previous one stays valid for the grace period (0 revokes it)",
    )
    rotate.add_argument(
        "--grace-hours",
        type=float,
        default=None,
        help="how long the previous token stays valid (default: the stack's TokenGraceHours, 24 "
        "unless changed; 0: revoke now)",
    )

    settings = topic("settings", "organization settings")
    command(settings, "show", _settings_show, "show the organization's settings")
    change = command(settings, "set", _settings_set, "change some settings")
    change.add_argument("--allow-members-to-create-workspaces", choices=["true", "false"])
    change.add_argument("--folder-revocation", choices=["automatic", "manual"])

    workspace = topic("workspace", "workspaces")
    create = command(
        workspace, "create", _workspace_create, "create a workspace with its home folder"
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--created-by",
        metavar="USER",
        help="a member (SCIM user id) creating it; needs the org setting, makes them its editor",
    )
    command(workspace, "list", _workspace_list, "list the organization's workspaces")
    rename = command(workspace, "rename", _workspace_rename, "change a workspace's name")
    rename.add_argument("--workspace", required=True, help="the workspace id")
    rename.add_argument("name", metavar="NAME")
    delete = command(
        workspace,
        "delete",
        _workspace_delete,
        "delete a workspace with its folders (home included), their grants and access",
    )
    delete.add_argument("--workspace", required=True, help="the workspace id")

    folder = topic("folder", "folders")
    create = command(folder, "create", _folder_create, "create a folder in a workspace")
    create.add_argument("--workspace", required=True, help="the workspace id")
    create.add_argument("name", metavar="NAME")
    listing = command(folder, "list", _folder_list, "list a workspace's folders")
    listing.add_argument("--workspace", required=True, help="the workspace id")
    rename = command(folder, "rename", _folder_rename, "change a folder's name")
    rename.add_argument("--folder", required=True, help="the folder id")
    rename.add_argument("name", metavar="NAME")
    delete = command(
        folder, "delete", _folder_delete, "delete a folder (not a home folder) and its access"
    )
    delete.add_argument("--folder", required=True, help="the folder id")

    access = topic("access", "levels of groups and users on workspaces and folders")
    assign = command(access, "set", _access_set, "set a group's or a user's level on a target")
    subject(assign)
    target(assign)
    assign.add_argument("--level", required=True, choices=["editor", "checker", "viewer"])
    remove = command(
        access,
        "remove",
        _access_remove,
        "remove a group's grant, or a user's direct and retained access",
    )
    subject(remove)
    target(remove)
    grants = command(access, "grants", _access_grants, "list a group's grants")
    grants.add_argument("--group", required=True, help="a SCIM group id")
    show = command(access, "show", _access_show, "a user's access, with where it comes from")
    show.add_argument("--user", required=True, help="a SCIM user id")
    explain = command(access, "explain", _access_explain, "why a user has a level on a target")
    explain.add_argument("--user", required=True, help="a SCIM user id")
    target(explain)
    who = command(access, "who", _access_who, "who has a level on a target")
    target(who)

    check = topics.add_parser(
        "check",
        parents=[common],
        help="verify the organization's table invariants (exit 2 while violations remain)",
        description=_check.__doc__,
    )
    check.set_defaults(run=_check)
    check.add_argument("--org", required=True, help="the organization id")
    check.add_argument(
        "--repair",
        action="store_true",
        help="fix each violation from the source of truth (conditional writes)",
    )
    check.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="how long each request may take before it returns a cursor (default: the API's)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 when the API refuses or cannot be reached."""
    args = _parser().parse_args(argv)
    if getattr(args, "run", None) is not None:
        try:
            status: int = args.run(args)
        except CliError as error:
            print(f"scimctl: {error}", file=sys.stderr)
            return 1
        return status
    try:
        call: Call = args.build(args)
        answer = send(args.url, call.method, call.path, call.body)
    except CliError as error:
        print(f"scimctl: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2) if args.json else call.render(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
