"""The installed `scimctl` against the local stack served on a loopback socket.

It runs as its own process, as an admin runs it: the in-process functions log to this process's
standard output, which would otherwise mix with the command's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCIMCTL = Path(sys.executable).parent / "scimctl"

pytestmark = pytest.mark.http


@pytest.fixture
def url(stack) -> str:
    return f"{stack.serve()}/admin"


def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run one command; its exit code, standard output and standard error."""
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(SCIMCTL), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def scimctl(url):
    return lambda *argv: run(*argv, "--url", url)


@pytest.fixture
def workspace_id(scimctl) -> str:
    scimctl("org", "create", "acme")
    code, out, _ = scimctl("workspace", "create", "--org", "acme", "Sales", "--json")
    assert code == 0
    return str(json.loads(out)["id"])


def test_org_create_prints_the_token_once(scimctl):
    code, out, _ = scimctl("org", "create", "acme", "--name", "Acme")
    assert code == 0
    assert "organization acme (Acme)" in out
    assert out.strip().splitlines()[-1].startswith("scim_acme_")


def test_second_org_create_fails_with_the_api_message_and_no_token(scimctl):
    scimctl("org", "create", "acme")
    code, out, err = scimctl("org", "create", "acme")
    assert (code, out) == (1, "")
    assert "organization acme already exists (HTTP 409)" in err
    assert "scim_acme_" not in err


def test_token_rotate_prints_the_new_token_and_the_grace(scimctl):
    scimctl("org", "create", "acme")
    code, out, _ = scimctl("token", "rotate", "--org", "acme", "--grace-hours", "2")
    assert code == 0
    assert "scim_acme_" in out
    assert "previous tokens stay valid for 2 hours" in out


def test_token_rotate_without_a_grace_leaves_it_to_the_stack(scimctl):
    scimctl("org", "create", "acme")
    code, out, _ = scimctl("token", "rotate", "--org", "acme")
    assert code == 0
    assert "previous tokens stay valid for 24 hours" in out


def test_settings_set_then_show(scimctl):
    scimctl("org", "create", "acme")
    code, _, _ = scimctl(
        "settings", "set", "--org", "acme", "--allow-members-to-create-workspaces", "false"
    )
    assert code == 0
    code, out, _ = scimctl("settings", "show", "--org", "acme")
    assert out.splitlines() == [
        "allowMembersToCreateWorkspaces: false",
        "folderRevocation: automatic",
    ]


def test_settings_set_without_a_setting_is_an_error(scimctl):
    code, _, err = scimctl("settings", "set", "--org", "acme")
    assert code == 1
    assert "nothing to set" in err


def test_workspace_list_shows_the_created_workspace(scimctl, workspace_id):
    code, out, _ = scimctl("workspace", "list", "--org", "acme")
    assert code == 0
    assert out.startswith(f"{workspace_id}  Sales  (home folder ")


def test_folder_create_then_list_marks_the_home_folder(scimctl, workspace_id):
    scimctl("folder", "create", "--org", "acme", "--workspace", workspace_id, "Accounts")
    code, out, _ = scimctl("folder", "list", "--org", "acme", "--workspace", workspace_id)
    lines = out.splitlines()
    assert code == 0
    assert sorted(line.split("  ")[1] for line in lines) == ["Accounts", "Home"]
    assert sum(line.endswith("(home)") for line in lines) == 1


def test_access_commands_on_an_unknown_user_exit_non_zero(scimctl, workspace_id):
    code, _, err = scimctl(
        "access",
        "set",
        "--org",
        "acme",
        "--user",
        "nobody",
        "--workspace",
        workspace_id,
        "--level",
        "editor",
    )
    assert code == 1
    assert "user nobody not found (HTTP 404)" in err


def test_access_who_on_a_workspace_without_holders_says_so(scimctl, workspace_id):
    code, out, _ = scimctl("access", "who", "--org", "acme", "--workspace", workspace_id)
    assert (code, out.strip().splitlines()) == (0, ["no group", "nobody"])


def test_json_output_is_the_api_answer(scimctl, workspace_id):
    code, out, _ = scimctl("workspace", "list", "--org", "acme", "--json")
    assert code == 0
    assert [w["id"] for w in json.loads(out)["workspaces"]] == [workspace_id]


def test_unreachable_api_is_an_error_not_a_trace():
    code, _, err = run("workspace", "list", "--org", "acme", "--url", "http://127.0.0.1:9/admin")
    assert code == 1
    assert err.startswith("scimctl: cannot reach http://127.0.0.1:9/admin")


def test_url_comes_from_scimctl_url(url):
    code, out, _ = run("org", "create", "acme", env={"SCIMCTL_URL": url})
    assert (code, "scim_acme_" in out) == (0, True)


def test_org_list_shows_every_organization(scimctl):
    scimctl("org", "create", "globex")
    scimctl("org", "create", "acme", "--name", "Acme")
    code, out, _ = scimctl("org", "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["acme", "globex"]


def test_org_list_pages_with_limit_and_after(scimctl):
    for org_id in ["acme", "globex", "initech"]:
        scimctl("org", "create", org_id)
    code, out, _ = scimctl("org", "list", "--limit", "2")
    assert code == 0
    assert out.splitlines()[-1] == "more: scimctl org list --after globex"
    code, out, _ = scimctl("org", "list", "--limit", "2", "--after", "globex")
    assert [line.split()[0] for line in out.splitlines()] == ["initech"]


def test_workspace_rename_then_delete(scimctl, workspace_id):
    code, out, _ = scimctl(
        "workspace", "rename", "--org", "acme", "--workspace", workspace_id, "Sales EMEA"
    )
    assert (code, out.startswith(f"{workspace_id}  Sales EMEA  ")) == (0, True)
    code, out, _ = scimctl("workspace", "delete", "--org", "acme", "--workspace", workspace_id)
    assert (code, out.strip()) == (0, "deleted; its folders, grants and access are being removed")
    assert scimctl("workspace", "list", "--org", "acme")[1].strip() == "no workspaces"


def test_folder_rename_then_delete_and_home_folder_refused(scimctl, workspace_id):
    code, out, _ = scimctl(
        "folder", "create", "--org", "acme", "--workspace", workspace_id, "Deals", "--json"
    )
    folder = json.loads(out)
    code, out, _ = scimctl("folder", "rename", "--org", "acme", "--folder", folder["id"], "Won")
    assert (code, out.split("  ")[:2]) == (0, [folder["id"], "Won"])
    assert scimctl("folder", "delete", "--org", "acme", "--folder", folder["id"])[0] == 0
    code, out, _ = scimctl("folder", "list", "--org", "acme", "--workspace", workspace_id)
    assert [line.split("  ")[1] for line in out.splitlines()] == ["Home"]
    home = out.split("  ")[0]
    code, _, err = scimctl("folder", "delete", "--org", "acme", "--folder", home)
    assert code == 1
    assert "delete the workspace instead (HTTP 409)" in err


def _corrupt_acme() -> None:
    """An orphan uniqueness guard and a wrong user counter, written straight to the table."""
    from provisioning import clients
    from provisioning.settings import get_settings

    table, client = get_settings().table_name, clients.dynamodb()
    guard = "UNIQUE#User#userName#ghost@acme.example"
    client.put_item(
        TableName=table,
        Item={"pk": {"S": "ORG#acme"}, "sk": {"S": guard}, "ownerId": {"S": "nobody"}},
    )
    client.put_item(
        TableName=table,
        Item={"pk": {"S": "ORG#acme"}, "sk": {"S": "COUNT#User"}, "total": {"N": "3"}},
    )


def test_check_of_a_consistent_org_exits_zero(scimctl, workspace_id):
    code, out, _ = scimctl("check", "--org", "acme")
    assert (code, out.strip()) == (0, "consistent: no violation found")


def test_check_reports_violations_then_repair_fixes_them(scimctl, workspace_id):
    _corrupt_acme()
    code, out, _ = scimctl("check", "--org", "acme")
    assert code == 2
    lines = out.splitlines()
    assert lines[-3:] == ["violations:", "  counter_mismatch: 1", "  orphan_guard: 1"]
    assert (
        "orphan_guard  ORG#acme / UNIQUE#User#userName#ghost@acme.example: "
        "User nobody does not exist"
    ) in lines
    code, out, _ = scimctl("check", "--org", "acme", "--repair")
    assert code == 0
    assert out.splitlines()[-2:] == [
        "  counter_mismatch: 1, 1 repaired",
        "  orphan_guard: 1, 1 repaired",
    ]
    assert scimctl("check", "--org", "acme") == (0, "consistent: no violation found\n", "")


def test_check_follows_the_cursor_across_short_requests(scimctl, workspace_id):
    _corrupt_acme()
    code, out, _ = scimctl("check", "--org", "acme", "--max-seconds", "0.000001", "--json")
    assert code == 2
    answer = json.loads(out)
    assert answer["summary"] == {
        "counter_mismatch": {"found": 1, "repaired": 0},
        "orphan_guard": {"found": 1, "repaired": 0},
    }
    assert len(answer["violations"]) == 2


def test_check_of_an_unknown_org_exits_one_with_the_api_message(scimctl):
    code, out, err = scimctl("check", "--org", "nobody")
    assert (code, out) == (1, "")
    assert "organization nobody not found (HTTP 404)" in err
