"""Filters through the local stack (RFC 7644 §3.4.2.2): `GET /Users?filter=` returns exactly the
users the filter selects, whether an index or paging answers it, and a bad filter is a SCIM
Error 400 `invalidFilter`. The grammar itself is covered case by case in
tests/unit/test_filter_grammar.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ERROR_SCHEMA, SCIM_JSON, ScimClient

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def people(contoso: ScimClient) -> dict[str, str]:
    """Three users by name: ada (enterprise extension, managed by bob), bob (inactive), carol."""
    bob = contoso.create_user(
        "bob@example.org",
        active=False,
        name={"givenName": "Charles", "familyName": "Babbage"},
        emails=[{"type": "work", "value": "bob@example.org"}],
    )["id"]
    ada = contoso.create_user(
        "Ada@Example.com",
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        externalId="ext-Ada",
        active=True,
        title="Chief Analyst",
        displayName="Ada Lovelace",
        nickName='The "Enchantress"',
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[
            {"type": "work", "value": "ada@example.com", "primary": True},
            {"type": "home", "value": "ada@home.example.org"},
        ],
        **{ENTERPRISE: {"employeeNumber": "1815", "manager": {"value": bob}}},
    )["id"]
    carol = contoso.create_user(
        "carol@example.com", active=True, emails=[{"type": "work", "value": "carol@example.net"}]
    )["id"]
    return {"ada": ada, "bob": bob, "carol": carol}


def listing(client: ScimClient, endpoint: str, text: str) -> Any:
    # Percent-encoded as a client must: `+` in an offset would otherwise read as a space.
    return client.get(f"{endpoint}?filter={quote(text, safe='')}")


def scim_error(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    return body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('userName eq "ADA@example.com"', {"ada"}, id="userName eq ignores case"),
        pytest.param('externalId eq "EXT-ADA"', set(), id="externalId eq is caseExact"),
        pytest.param(
            'name.familyName eq "lovelace" and active eq true', {"ada"}, id="sub-attribute and"
        ),
        pytest.param(f'{ENTERPRISE}:employeeNumber eq "1815"', {"ada"}, id="extension by URN"),
        pytest.param(
            f'{ENTERPRISE}:manager.value eq "{{bob}}"', {"ada"}, id="extension sub-attribute"
        ),
        pytest.param(
            'emails[type eq "work" and value ew ".org"]', {"bob"}, id="value path with and"
        ),
        pytest.param("not (not (active eq false))", {"bob"}, id="nested not"),
        pytest.param(
            'userName sw "c" or userName sw "b" and active eq true',
            {"carol"},
            id="and binds tighter than or",
        ),
        pytest.param(
            'meta.created gt "2000-01-01T01:00:00+01:00"',
            {"ada", "bob", "carol"},
            id="dateTime with an offset",
        ),
        pytest.param('meta.lastModified lt "2000-01-01T00:00:00Z"', set(), id="dateTime lt"),
        pytest.param('id eq "{ada}" or id eq "{carol}"', {"ada", "carol"}, id="or of ids"),
        pytest.param('nickName eq "The \\"Enchantress\\""', {"ada"}, id="escaped quotes"),
        pytest.param("title pr", {"ada"}, id="pr"),
    ],
)
def test_get_users_returns_exactly_the_matching_users(
    contoso: ScimClient, people: dict[str, str], text: str, expected: set[str]
) -> None:
    names = {user_id: name for name, user_id in people.items()}
    response = listing(contoso, "/Users", text.format(**people))
    assert response.status == 200, response.body
    body = response.json()
    assert {names[r["id"]] for r in body["Resources"]} == expected
    assert body["totalResults"] == len(expected)


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [
        pytest.param("/Users", 'userName eq "x" and', id="syntax"),
        pytest.param("/Users", 'active eq "true"', id="boolean compared with a string"),
        pytest.param("/Users", 'meta.created gt "yesterday"', id="unparsable dateTime"),
        pytest.param("/Users", 'name eq "Ada"', id="complex attribute compared whole"),
        pytest.param("/Users", "active gt false", id="gt on a boolean"),
        pytest.param("/Users", 'password eq "secret"', id="password is never stored"),
        pytest.param("/Groups", 'members co "x"', id="members only compare with ids"),
    ],
)
def test_a_bad_filter_is_a_scim_400_invalid_filter(
    contoso: ScimClient, endpoint: str, text: str
) -> None:
    response = listing(contoso, endpoint, text)
    assert response.status == 400
    error = scim_error(response)
    assert (error["status"], error["scimType"]) == ("400", "invalidFilter")


def test_an_attribute_no_served_type_declares_is_invalid_filter(contoso: ScimClient) -> None:
    response = listing(contoso, "/Users", 'favouriteColour eq "blue"')
    assert response.status == 400
    assert scim_error(response)["scimType"] == "invalidFilter"


def test_search_body_filter_is_checked_the_same_way(contoso: ScimClient) -> None:
    body = {"schemas": [SEARCH_REQUEST], "filter": 'active eq "true"'}
    response = contoso.post("/Users/.search", body)
    assert response.status == 400
    assert scim_error(response)["scimType"] == "invalidFilter"


def test_root_search_filters_users_and_groups_together(
    contoso: ScimClient, people: dict[str, str]
) -> None:
    """RFC 7644 §3.4.2.1: one filter over both types; a User attribute has no value on a Group,
    so `not (active pr)` selects the group and no user."""
    group = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Analysts"})
    assert group.status == 201, group.body
    body = {"schemas": [SEARCH_REQUEST], "filter": 'displayName sw "A" or not (active pr)'}
    response = contoso.post("/.search", body)
    assert response.status == 200, response.body
    found = {r["id"] for r in response.json()["Resources"]}
    assert found == {people["ada"], group.json()["id"]}


def test_groups_filter_on_a_member_id(contoso: ScimClient, people: dict[str, str]) -> None:
    """Entra checks a membership with `id eq "<group>" and members eq "<user>"`."""
    holding = contoso.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Analysts",
            "members": [{"value": people["ada"]}],
        },
    ).json()["id"]
    other = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Others"}).json()[
        "id"
    ]
    ada, bob = people["ada"], people["bob"]
    for text, expected in [
        (f'members eq "{ada}"', {holding}),
        (f'members[value eq "{bob}" or value eq "{ada}"]', {holding}),
        (f'id eq "{holding}" and members eq "{ada}"', {holding}),
        (f'id eq "{holding}" and members eq "{bob}"', set()),
        (f'not (members eq "{ada}")', {other}),
    ]:
        response = listing(contoso, "/Groups", text)
        assert response.status == 200, response.body
        assert {g["id"] for g in response.json()["Resources"]} == expected, text
