"""No token, Authorization header or personal data in any log line the functions write.

A whole provisioning run (users with names, e-mails and phone numbers, groups, changes, filters,
bad tokens, bad bodies, deletion, access through the fan-out) goes through the local stack while
every log record at DEBUG and above is kept, rendered with all its fields and any traceback, as
CloudWatch would receive it. The local emulator's own request line is left out: it is not
deployed (API Gateway's access log, which is, records no query string or header).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from provisioning.auth.tokens import new_token
from tests.conftest import USER_SCHEMA, ScimClient, admin_call

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
EMULATOR_LOGGERS = ("provisioning.local",)
PERSONAL = {
    "given name": "Wilhelmina",
    "family name": "Quackenbush",
    "e-mail": "wilhelmina.quackenbush@contoso.example",
    "home e-mail": "mina.q@home.example",
    "phone": "+1 555 0134 7788",
    "street": "42 Lantern Row",
    "external id": "ext-7f3a9c11-secret-ish",
}


def render(record: logging.LogRecord) -> str:
    """Everything a JSON log formatter could print for this record."""
    fields = {key: value for key, value in vars(record).items() if key not in {"args", "msg"}}
    text = json.dumps({"message": record.getMessage(), **fields}, default=str)
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


def provisioning_run(stack: Any) -> list[str]:
    """The secrets and personal values a full run sends; returns them for the search."""
    status, created = admin_call(stack, "POST", "/orgs", {"id": "contoso", "name": "Contoso"})
    assert status == 201, created
    contoso = ScimClient(stack, created["token"], "Microsoft.Identity.Provisioning")
    user = contoso.create_user(
        PERSONAL["e-mail"],
        externalId=PERSONAL["external id"],
        name={"givenName": PERSONAL["given name"], "familyName": PERSONAL["family name"]},
        displayName=f"{PERSONAL['given name']} {PERSONAL['family name']}",
        emails=[
            {"value": PERSONAL["e-mail"], "type": "work", "primary": True},
            {"value": PERSONAL["home e-mail"], "type": "home"},
        ],
        phoneNumbers=[{"value": PERSONAL["phone"], "type": "work"}],
        addresses=[{"streetAddress": PERSONAL["street"], "type": "work"}],
    )
    user_path = f"/Users/{user['id']}"
    contoso.get(f'/Users?filter=userName eq "{PERSONAL["e-mail"]}"')
    contoso.get(f'/Users?filter=emails[value eq "{PERSONAL["home e-mail"]}"]')
    contoso.get(f'/Users?filter=phoneNumbers.value eq "{PERSONAL["phone"]}"')
    contoso.patch(user_path, [{"op": "Replace", "path": "name.familyName", "value": "Q."}])
    contoso.patch(user_path, [{"op": "replace", "path": "active", "value": "False"}])
    contoso.patch(user_path, [{"op": "replace", "path": "active", "value": True}])
    # Refused requests carry personal data too: their errors must not echo it into the logs.
    contoso.post("/Users", {"schemas": [USER_SCHEMA], "userName": PERSONAL["e-mail"]})
    contoso.post(
        "/Users", {"schemas": [USER_SCHEMA], "name": {"givenName": PERSONAL["given name"]}}
    )
    contoso.request("POST", "/Users", f'{{"userName": "{PERSONAL["e-mail"]}", ')
    contoso.get(f'/Users?filter=userName eq "{PERSONAL["e-mail"]}" and')
    group = contoso.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Night Shift",
            "members": [{"value": user["id"]}],
        },
    ).json()
    status, workspace = admin_call(stack, "POST", "/orgs/contoso/workspaces", {"name": "Ops"})
    assert status == 201, workspace
    status, grant = admin_call(
        stack,
        "PUT",
        f"/orgs/contoso/groups/{group['id']}/grants/workspace/{workspace['id']}",
        {"level": "editor"},
    )
    assert status == 200, grant
    stack.drain()
    status, access = admin_call(stack, "GET", f"/orgs/contoso/users/{user['id']}/access")
    assert access["access"], "the fan-out did not run: its logs would be missing"
    wrong = new_token("contoso")
    stack.request("GET", "/scim/v2/Users", headers={"Authorization": f"Bearer {wrong}"})
    stack.request("GET", "/scim/v2/Users", headers={"Authorization": "Basic d2lsaGVsbWluYTpwdw=="})
    contoso.delete(f"/Groups/{group['id']}")
    contoso.delete(user_path)
    stack.drain()
    return [contoso.token, wrong, "d2lsaGVsbWluYTpwdw==", *PERSONAL.values()]


def test_no_log_line_holds_a_token_a_header_or_personal_data(stack, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("botocore").setLevel(logging.INFO)  # its DEBUG dumps whole requests
    sensitive = provisioning_run(stack)
    lines = [
        render(record) for record in caplog.records if not record.name.startswith(EMULATOR_LOGGERS)
    ]
    assert len(lines) > 20, "the run logged almost nothing: is the capture working?"
    leaks = [
        (value, line[:300])
        for line in lines
        for value in [*sensitive, "Bearer ", "authorization"]
        if value.lower() in line.lower()
    ]
    assert leaks == []


@pytest.mark.parametrize("value", ["Bearer ", "authorization"])
def test_the_check_sees_a_leak(value: str) -> None:
    """The search above is not vacuous: a record that carries a header is found."""
    record = logging.LogRecord("scim-users", logging.INFO, __file__, 1, "request", (), None)
    record.headers = {"Authorization": "Bearer scim_contoso_x"}
    assert value.lower() in render(record).lower()
