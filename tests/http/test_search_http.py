"""List and search through the local stack: sorting (RFC 7644 §3.4.2.3), index paging
(§3.4.2.4), cursor paging (RFC 9865), POST `/.search` on Users, Groups and the root (§3.4.3).

The engine's reads and its bounded scans are covered in tests/integration/test_search.py and
tests/integration/test_search_properties.py; these tests drive the public HTTP surface only.
"""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest

import provisioning.api.resources
import provisioning.api.search
from provisioning.scim.cursor import CursorCodec
from provisioning.scim.resources import CURSOR_TIMEOUT_SECONDS, MAX_RESULTS
from tests.conftest import ENTERPRISE, ERROR_SCHEMA, SCIM_JSON, USER_SCHEMA, ScimClient
from tests.http.seeding import seed_users

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
EMPLOYEE_NUMBER = f"{ENTERPRISE}:employeeNumber"
# RFC 3986 §2.3, which RFC 9865 §2 requires of a cursor.
UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]+")


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def staff(contoso: ScimClient) -> dict[str, str]:
    """Four users whose orders differ by every sort key the tests use (ids by first name).

    | user   | userName          | title    | emails (primary *)             | employeeNumber |
    | bob    | bob@example.org   | Engineer | a-bob, *z-bob                  | 1002           |
    | ada    | Ada@example.com   | Analyst  | m-ada                          | 1003           |
    | carol  | carol@example.com | -        | -                              | -              |
    | dave   | Dave@example.com  | Director | *b-dave                        | 1001           |

    Created in that order; bob is modified last, so his meta.lastModified is the latest.
    """
    bob = contoso.create_user(
        "bob@example.org",
        schemas=[USER_SCHEMA, ENTERPRISE],
        title="Engineer",
        emails=[
            {"value": "a-bob@example.org", "type": "home"},
            {"value": "z-bob@example.org", "type": "work", "primary": True},
        ],
        **{ENTERPRISE: {"employeeNumber": "1002"}},
    )["id"]
    ada = contoso.create_user(
        "Ada@example.com",
        schemas=[USER_SCHEMA, ENTERPRISE],
        title="Analyst",
        emails=[{"value": "m-ada@example.com", "type": "work"}],
        **{ENTERPRISE: {"employeeNumber": "1003"}},
    )["id"]
    carol = contoso.create_user("carol@example.com")["id"]
    dave = contoso.create_user(
        "Dave@example.com",
        schemas=[USER_SCHEMA, ENTERPRISE],
        title="Director",
        emails=[{"value": "b-dave@example.com", "type": "work", "primary": True}],
        **{ENTERPRISE: {"employeeNumber": "1001"}},
    )["id"]
    time.sleep(0.002)  # lastModified has microseconds; make bob's change strictly the latest
    changed = contoso.patch(
        f"/Users/{bob}", [{"op": "replace", "path": "nickName", "value": "Bobby"}]
    )
    assert changed.status == 200, changed.body
    return {"bob": bob, "ada": ada, "carol": carol, "dave": dave}


@pytest.fixture
def teams(contoso: ScimClient, staff: dict[str, str]) -> dict[str, str]:
    """Three groups (ids by lower-cased displayName); Sales holds ada and dave."""
    made = {}
    for name, members in [("Sales", ["ada", "dave"]), ("engineering", ["bob"]), ("Admins", [])]:
        response = contoso.post(
            "/Groups",
            {
                "schemas": [GROUP_SCHEMA],
                "displayName": name,
                "members": [{"value": staff[member]} for member in members],
            },
        )
        assert response.status == 201, response.body
        made[name.lower()] = response.json()["id"]
    return made


def listing(client: ScimClient, endpoint: str, **params: str) -> dict[str, Any]:
    """GET a list endpoint with these query parameters (percent-encoded); asserts a 200."""
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    response = client.get(f"{endpoint}?{query}" if query else endpoint)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    return body


def searching(client: ScimClient, endpoint: str, **fields: Any) -> dict[str, Any]:
    """POST a SearchRequest to `<endpoint>/.search`; asserts a 200."""
    response = client.post(f"{endpoint}/.search", {"schemas": [SEARCH_REQUEST], **fields})
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [resource["id"] for resource in body.get("Resources", [])]


def names(body: dict[str, Any], people: dict[str, str]) -> list[str]:
    """The page's resources by the fixture's names for them."""
    by_id = {resource_id: name for name, resource_id in people.items()}
    return [by_id[resource_id] for resource_id in ids(body)]


def pages(client: ScimClient, endpoint: str, **params: str) -> list[dict[str, Any]]:
    """Every page of a cursor-paginated GET, from an empty cursor to the page without
    `nextCursor`."""
    walked = [listing(client, endpoint, cursor="", **params)]
    while "nextCursor" in walked[-1]:
        assert len(walked) < 50, "nextCursor never ended"
        walked.append(listing(client, endpoint, cursor=walked[-1]["nextCursor"], **params))
    return walked


def scim_error(response: Any, scim_type: str | None, status: int = 400) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def first_cursor(client: ScimClient, endpoint: str = "/Users", **params: str) -> str:
    body = listing(client, endpoint, cursor="", **params)
    cursor: str = body["nextCursor"]
    return cursor


# --- sortBy / sortOrder (RFC 7644 §3.4.2.3) --------------------------------------------------


def test_sort_by_user_name_ignores_case(contoso, staff):
    body = listing(contoso, "/Users", sortBy="userName")
    assert names(body, staff) == ["ada", "bob", "carol", "dave"]


def test_sort_order_descending_reverses_the_order(contoso, staff):
    body = listing(contoso, "/Users", sortBy="userName", sortOrder="descending")
    assert names(body, staff) == ["dave", "carol", "bob", "ada"]


def test_sort_order_defaults_to_ascending(contoso, staff):
    assert listing(contoso, "/Users", sortBy="userName") == listing(
        contoso, "/Users", sortBy="userName", sortOrder="ascending"
    )


def test_sort_by_attribute_name_is_case_insensitive(contoso, staff):
    body = listing(contoso, "/Users", sortBy="USERNAME", sortOrder="descending")
    assert names(body, staff) == ["dave", "carol", "bob", "ada"]


def test_sort_puts_missing_values_last_ascending(contoso, staff):
    body = listing(contoso, "/Users", sortBy="title")
    assert names(body, staff) == ["ada", "dave", "bob", "carol"]


def test_sort_puts_missing_values_first_descending(contoso, staff):
    body = listing(contoso, "/Users", sortBy="title", sortOrder="descending")
    assert names(body, staff) == ["carol", "bob", "dave", "ada"]


def test_sort_by_multi_valued_emails_uses_the_primary_value(contoso, staff):
    """bob's first email (a-bob) would sort first; his primary (z-bob) sorts last."""
    body = listing(contoso, "/Users", sortBy="emails")
    assert names(body, staff) == ["dave", "ada", "bob", "carol"]


def test_sort_by_emails_value_uses_the_primary_value(contoso, staff):
    body = listing(contoso, "/Users", sortBy="emails.value")
    assert names(body, staff) == ["dave", "ada", "bob", "carol"]


def test_sort_by_last_modified_orders_by_instant(contoso, staff):
    body = listing(contoso, "/Users", sortBy="meta.lastModified")
    assert names(body, staff) == ["ada", "carol", "dave", "bob"]
    body = listing(contoso, "/Users", sortBy="meta.lastModified", sortOrder="descending")
    assert names(body, staff) == ["bob", "dave", "carol", "ada"]


def test_sort_by_created_orders_by_creation(contoso, staff):
    body = listing(contoso, "/Users", sortBy="meta.created")
    assert names(body, staff) == ["bob", "ada", "carol", "dave"]


def test_sort_by_enterprise_urn_attribute(contoso, staff):
    body = listing(contoso, "/Users", sortBy=EMPLOYEE_NUMBER)
    assert names(body, staff) == ["dave", "bob", "ada", "carol"]


def test_sort_groups_by_display_name_ignores_case(contoso, teams):
    body = listing(contoso, "/Groups", sortBy="displayName")
    assert names(body, teams) == ["admins", "engineering", "sales"]
    body = listing(contoso, "/Groups", sortBy="displayName", sortOrder="descending")
    assert names(body, teams) == ["sales", "engineering", "admins"]


def test_sort_applies_before_the_page_is_cut(contoso, staff):
    body = listing(contoso, "/Users", sortBy="userName", startIndex="2", count="2")
    assert names(body, staff) == ["bob", "carol"]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (4, 2, 2)


def test_sort_of_a_filtered_list(contoso, staff):
    body = listing(contoso, "/Users", filter="title pr", sortBy="title", sortOrder="descending")
    assert names(body, staff) == ["bob", "dave", "ada"]
    assert body["totalResults"] == 3


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"sortBy": "userName", "sortOrder": "sideways"}, id="bad sortOrder"),
        pytest.param({"sortOrder": "upwards"}, id="bad sortOrder without sortBy"),
        pytest.param({"sortBy": "favouriteColour"}, id="unknown sortBy"),
        pytest.param({"sortBy": f"{ENTERPRISE}:shoeSize"}, id="unknown extension attribute"),
        pytest.param({"sortBy": "name"}, id="complex attribute without sub-attribute"),
        pytest.param({"sortBy": f"{ENTERPRISE}:manager"}, id="complex extension attribute"),
        pytest.param({"sortBy": "members"}, id="a group attribute on /Users"),
    ],
)
def test_bad_sort_parameters_are_invalid_value(contoso, staff, params):
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    scim_error(contoso.get(f"/Users?{query}"), "invalidValue")


def test_sort_by_a_user_attribute_on_groups_is_invalid_value(contoso, teams):
    scim_error(contoso.get("/Groups?sortBy=userName"), "invalidValue")


# --- startIndex / count (RFC 7644 §3.4.2.4) ---------------------------------------------------


def test_index_pages_partition_the_listing_in_a_stable_order(contoso, staff):
    for number in range(3):
        contoso.create_user(f"extra{number}@example.com")
    everything = listing(contoso, "/Users")
    assert everything["totalResults"] == 7
    collected: list[str] = []
    for start in (1, 4, 7):
        page = listing(contoso, "/Users", startIndex=str(start), count="3")
        assert (page["totalResults"], page["startIndex"]) == (7, start)
        assert page["itemsPerPage"] == len(page["Resources"]) == min(3, 8 - start)
        collected += ids(page)
    assert collected == ids(everything)
    assert len(set(collected)) == 7
    assert listing(contoso, "/Users") == everything  # the same request, the same order


def test_index_pages_of_a_sorted_query_partition_it(contoso, staff):
    params = {"sortBy": "userName", "sortOrder": "descending"}
    collected = [
        name
        for start in ("1", "3")
        for name in names(listing(contoso, "/Users", startIndex=start, count="2", **params), staff)
    ]
    assert collected == ["dave", "carol", "bob", "ada"]


def test_start_index_past_the_end_is_an_empty_page(contoso, staff):
    body = listing(contoso, "/Users", startIndex="9", count="3")
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (4, 9, 0)
    assert body["Resources"] == []


def test_count_zero_returns_exactly_schemas_and_total_results(contoso, teams):
    assert listing(contoso, "/Groups", count="0") == {"schemas": [LIST_RESPONSE], "totalResults": 3}
    assert listing(contoso, "/Users", count="0", filter="title pr") == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 3,
    }


def test_negative_count_is_read_as_zero(contoso, staff):
    assert listing(contoso, "/Users", count="-5") == {"schemas": [LIST_RESPONSE], "totalResults": 4}


def test_count_over_the_maximum_is_clamped_to_it(contoso):
    seed_users("contoso", MAX_RESULTS + 5)
    body = listing(contoso, "/Users", count="1000", excludedAttributes="groups")
    assert body["totalResults"] == MAX_RESULTS + 5
    assert body["itemsPerPage"] == len(body["Resources"]) == MAX_RESULTS
    rest = listing(
        contoso,
        "/Users",
        count="1000",
        startIndex=str(MAX_RESULTS + 1),
        excludedAttributes="groups",
    )
    assert rest["itemsPerPage"] == 5
    assert set(ids(body)).isdisjoint(ids(rest))


def test_count_without_a_value_gets_the_default_page(contoso, staff):
    body = listing(contoso, "/Users", count="")
    assert (body["totalResults"], body["itemsPerPage"]) == (4, 4)


@pytest.mark.parametrize("start", ["0", "-3"])
def test_start_index_below_one_is_read_as_one(contoso, staff, start):
    body = listing(contoso, "/Users", startIndex=start, count="2")
    first = listing(contoso, "/Users", startIndex="1", count="2")
    assert body == first
    assert body["startIndex"] == 1


@pytest.mark.parametrize("params", ["startIndex=two", "count=ten", "count=1.5"])
def test_non_integer_paging_values_are_invalid_value(contoso, params):
    scim_error(contoso.get(f"/Users?{params}"), "invalidValue")


# --- cursors (RFC 9865) --------------------------------------------------------------------


def test_empty_cursor_starts_cursor_paging(contoso, staff):
    body = listing(contoso, "/Users", cursor="", count="2")
    assert body["totalResults"] == 4
    assert body["itemsPerPage"] == len(body["Resources"]) == 2
    assert "nextCursor" in body
    assert "startIndex" not in body
    assert "previousCursor" not in body  # RFC 9865 §2: never on the first page


def test_bare_cursor_parameter_starts_cursor_paging(contoso, staff):
    """RFC 9865's own example sends `...&cursor&count=10`."""
    response = contoso.get("/Users?cursor&count=2")
    assert response.status == 200, response.body
    assert len(response.json()["Resources"]) == 2
    assert "nextCursor" in response.json()


def test_following_next_cursor_visits_every_user_exactly_once(contoso, staff):
    for number in range(3):
        contoso.create_user(f"extra{number}@example.com")
    walked = pages(contoso, "/Users", count="3")
    assert [len(page["Resources"]) for page in walked] == [3, 3, 1]
    assert "nextCursor" not in walked[-1]
    visited = [resource_id for page in walked for resource_id in ids(page)]
    assert visited == ids(listing(contoso, "/Users"))
    assert len(set(visited)) == 7
    assert all(page["totalResults"] == 7 for page in walked)


def test_a_cursor_page_that_holds_the_rest_has_no_next_cursor(contoso, staff):
    body = listing(contoso, "/Users", cursor="", count="4")
    assert len(body["Resources"]) == 4
    assert "nextCursor" not in body


def test_cursor_pages_with_a_filter_and_sort(contoso, staff):
    params = {"filter": "title pr", "sortBy": "userName", "sortOrder": "descending", "count": "1"}
    walked = pages(contoso, "/Users", **params)
    assert [name for page in walked for name in names(page, staff)] == ["dave", "bob", "ada"]
    assert all(page["totalResults"] == 3 for page in walked)


def test_cursor_pages_with_missing_sort_values(contoso, staff):
    """Ties (no title) and missing values survive the cursor's round trip."""
    contoso.create_user("erin@example.com")
    walked = pages(contoso, "/Users", sortBy="title", sortOrder="descending", count="1")
    visited = [resource_id for page in walked for resource_id in ids(page)]
    expected = listing(contoso, "/Users", sortBy="title", sortOrder="descending")
    assert visited == ids(expected)
    assert len(visited) == 5


def test_cursor_pages_of_groups(contoso, teams):
    walked = pages(contoso, "/Groups", sortBy="displayName", count="2")
    assert [name for page in walked for name in names(page, teams)] == [
        "admins",
        "engineering",
        "sales",
    ]


def test_next_cursor_holds_only_unreserved_characters(contoso, staff):
    for params in ({}, {"sortBy": EMPLOYEE_NUMBER}, {"filter": 'userName sw "a" or title pr'}):
        cursor = first_cursor(contoso, count="1", **params)
        assert UNRESERVED.fullmatch(cursor), cursor


def _flip(text: str, index: int) -> str:
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: _flip(c, 3), id="payload changed"),
        pytest.param(lambda c: _flip(c, c.index(".") + 2), id="signature changed"),
        pytest.param(lambda c: c.split(".")[0], id="signature removed"),
        pytest.param(lambda c: c[:-5], id="truncated"),
        pytest.param(lambda c: "not-a-cursor", id="made up"),
        pytest.param(lambda c: "~~~.~~~", id="not base64"),
    ],
)
def test_tampered_cursor_is_invalid_cursor(contoso, staff, tamper):
    cursor = tamper(first_cursor(contoso, count="1"))
    scim_error(contoso.get(f"/Users?count=1&cursor={quote(cursor, safe='')}"), "invalidCursor")


def test_cursor_reused_with_a_different_filter_is_invalid_cursor(contoso, staff):
    cursor = first_cursor(contoso, count="1", filter="title pr")
    other = quote('userName sw "a"', safe="")
    scim_error(contoso.get(f"/Users?count=1&filter={other}&cursor={cursor}"), "invalidCursor")


def test_cursor_reused_without_its_filter_is_invalid_cursor(contoso, staff):
    cursor = first_cursor(contoso, count="1", filter="title pr")
    scim_error(contoso.get(f"/Users?count=1&cursor={cursor}"), "invalidCursor")


def test_cursor_reused_with_a_different_sort_order_is_invalid_cursor(contoso, staff):
    cursor = first_cursor(contoso, count="1", sortBy="userName")
    response = contoso.get(f"/Users?count=1&sortBy=userName&sortOrder=descending&cursor={cursor}")
    scim_error(response, "invalidCursor")


def test_cursor_with_a_changed_count_is_invalid_count(contoso, staff):
    cursor = first_cursor(contoso, count="1")
    scim_error(contoso.get(f"/Users?count=2&cursor={cursor}"), "invalidCount")


def test_cursor_of_another_organization_is_invalid_cursor(contoso, fabrikam, staff):
    """RFC 9865 §5: a cursor gives no access beyond its holder's; fabrikam cannot use it."""
    fabrikam.create_user("someone@fabrikam.example")
    cursor = first_cursor(contoso, count="1")
    scim_error(fabrikam.get(f"/Users?count=1&cursor={cursor}"), "invalidCursor")


def test_a_users_cursor_is_invalid_cursor_on_groups(contoso, teams):
    """A cursor is bound to its query (RFC 9865 §2: the same endpoint, identical parameters);
    on another endpoint it is not a nextCursor that endpoint issued."""
    cursor = first_cursor(contoso, "/Users", count="1")
    scim_error(contoso.get(f"/Groups?count=1&cursor={cursor}"), "invalidCursor")


def test_a_groups_cursor_is_invalid_cursor_at_the_root(contoso, teams):
    cursor = first_cursor(contoso, "/Groups", count="1")
    response = contoso.post("/.search", {"schemas": [SEARCH_REQUEST], "cursor": cursor, "count": 1})
    scim_error(response, "invalidCursor")


def test_start_index_and_cursor_together_are_invalid_value(contoso, staff):
    scim_error(contoso.get("/Users?startIndex=1&cursor="), "invalidValue")
    cursor = first_cursor(contoso, count="1")
    scim_error(contoso.get(f"/Users?count=1&startIndex=2&cursor={cursor}"), "invalidValue")


def _clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every cursor codec the endpoints build from now on reads a clock `seconds` ahead.
    (The codec binds `time.time` as its default clock when its module is imported, so
    patching `time.time` would not reach it; the handlers run in this process.)"""
    codec = partial(CursorCodec, clock=lambda: time.time() + seconds)
    monkeypatch.setattr(provisioning.api.search, "CursorCodec", codec)


def test_expired_cursor_is_expired_cursor(contoso, staff, monkeypatch):
    cursor = first_cursor(contoso, count="1")
    _clock_ahead(monkeypatch, CURSOR_TIMEOUT_SECONDS + 5)
    scim_error(contoso.get(f"/Users?count=1&cursor={cursor}"), "expiredCursor")


def test_cursor_is_valid_until_cursor_timeout(contoso, staff, monkeypatch):
    cursor = first_cursor(contoso, count="1")
    _clock_ahead(monkeypatch, CURSOR_TIMEOUT_SECONDS - 5)
    assert len(listing(contoso, "/Users", count="1", cursor=cursor)["Resources"]) == 1


def test_count_zero_with_a_cursor_returns_only_the_total(contoso, staff):
    assert listing(contoso, "/Users", count="0", cursor="") == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 4,
    }


# --- POST /.search on a resource type (RFC 7644 §3.4.3) --------------------------------------


def test_users_search_returns_the_same_as_the_equivalent_get(contoso, staff):
    get = listing(
        contoso,
        "/Users",
        filter='title pr or userName eq "carol@example.com"',
        attributes="userName,title",
        sortBy="title",
        sortOrder="descending",
        startIndex="2",
        count="2",
    )
    post = searching(
        contoso,
        "/Users",
        filter='title pr or userName eq "carol@example.com"',
        attributes=["userName", "title"],
        sortBy="title",
        sortOrder="descending",
        startIndex=2,
        count=2,
    )
    assert post == get
    assert names(post, staff) == ["bob", "dave"]


def test_users_search_excluded_attributes_match_the_get(contoso, staff):
    get = listing(contoso, "/Users", excludedAttributes="emails,meta", sortBy="userName")
    post = searching(contoso, "/Users", excludedAttributes=["emails", "meta"], sortBy="userName")
    assert post == get
    assert all("emails" not in user and "meta" not in user for user in post["Resources"])


def test_users_search_cursor_pages_match_the_get_pages(contoso, staff):
    walked = pages(contoso, "/Users", sortBy="userName", count="3")
    searched = [searching(contoso, "/Users", sortBy="userName", count=3, cursor="")]
    while "nextCursor" in searched[-1]:
        searched.append(
            searching(
                contoso, "/Users", sortBy="userName", count=3, cursor=searched[-1]["nextCursor"]
            )
        )
    assert [ids(page) for page in searched] == [ids(page) for page in walked]
    assert "nextCursor" not in searched[-1]


def test_groups_search_returns_the_same_as_the_equivalent_get(contoso, teams):
    get = listing(
        contoso,
        "/Groups",
        filter='displayName eq "SALES" or displayName eq "admins"',
        excludedAttributes="members",
        sortBy="displayName",
    )
    post = searching(
        contoso,
        "/Groups",
        filter='displayName eq "SALES" or displayName eq "admins"',
        excludedAttributes=["members"],
        sortBy="displayName",
    )
    assert post == get
    assert names(post, teams) == ["admins", "sales"]


def test_groups_search_renders_members(contoso, staff, teams):
    body = searching(contoso, "/Groups", filter='displayName eq "Sales"')
    [sales] = body["Resources"]
    assert {member["value"] for member in sales["members"]} == {staff["ada"], staff["dave"]}


def test_search_without_the_search_request_schema_is_invalid_syntax(contoso, staff):
    scim_error(contoso.post("/Users/.search", {"filter": "title pr"}), "invalidSyntax")
    scim_error(
        contoso.post("/Groups/.search", {"schemas": [LIST_RESPONSE], "count": 1}), "invalidSyntax"
    )


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"count": "10"}, id="count as a string"),
        pytest.param({"startIndex": "1"}, id="startIndex as a string"),
        pytest.param({"startIndex": True}, id="startIndex as a boolean"),
        pytest.param({"count": 2.5}, id="count as a fraction"),
        pytest.param({"attributes": "userName"}, id="attributes as a string"),
        pytest.param({"excludedAttributes": [1]}, id="excludedAttributes of numbers"),
        pytest.param({"filter": 5}, id="filter as a number"),
        pytest.param({"sortBy": ["userName"]}, id="sortBy as a list"),
        pytest.param({"cursor": 0}, id="cursor as a number"),
    ],
)
def test_search_fields_of_the_wrong_json_type_are_invalid_value(contoso, fields):
    response = contoso.post("/Users/.search", {"schemas": [SEARCH_REQUEST], **fields})
    scim_error(response, "invalidValue")


@pytest.mark.parametrize("endpoint", ["/Users/.search", "/Groups/.search"])
def test_get_on_a_search_endpoint_is_405(contoso, endpoint):
    scim_error(contoso.get(endpoint), None, status=405)


# --- POST /.search at the root ---------------------------------------------------------------


def test_root_search_returns_users_and_groups_together(contoso, staff, teams):
    body = searching(contoso, "", filter='userName eq "ada@EXAMPLE.com" or displayName eq "sales"')
    assert ids(body) == [staff["ada"], teams["sales"]]  # users first, then groups
    assert body["totalResults"] == 2


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [("Group", {"sales", "engineering", "admins"}), ("User", {"ada", "bob", "carol", "dave"})],
)
def test_root_search_by_resource_type(contoso, staff, teams, resource_type, expected):
    body = searching(contoso, "", filter=f'meta.resourceType eq "{resource_type}"')
    assert set(names(body, {**staff, **teams})) == expected
    assert body["totalResults"] == len(expected)
    assert {r["meta"]["resourceType"] for r in body["Resources"]} == {resource_type}


def test_root_search_renders_each_resource_as_its_type(contoso, staff, teams):
    body = searching(contoso, "", filter=f'id eq "{staff["ada"]}" or id eq "{teams["sales"]}"')
    user, group = body["Resources"]
    assert user["schemas"][0] == USER_SCHEMA
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{staff['ada']}")
    assert [g["value"] for g in user["groups"]] == [teams["sales"]]
    assert "members" not in user
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["meta"]["location"].endswith(f"/scim/v2/Groups/{teams['sales']}")
    assert {m["value"] for m in group["members"]} == {staff["ada"], staff["dave"]}
    assert "groups" not in group


def test_root_search_projects_attributes_per_type(contoso, staff, teams):
    body = searching(
        contoso,
        "",
        filter='userName eq "bob@example.org" or displayName eq "Engineering"',
        attributes=["userName", "displayName"],
    )
    user, group = body["Resources"]
    # Only `id` is returned always (RFC 7643 §7); each type keeps the names it declares.
    assert user == {"schemas": [USER_SCHEMA], "id": staff["bob"], "userName": "bob@example.org"}
    assert group == {
        "schemas": [GROUP_SCHEMA],
        "id": teams["engineering"],
        "displayName": "engineering",
    }


def test_root_search_sorts_across_types(contoso, staff, teams):
    body = searching(contoso, "", sortBy="displayName", filter='userName sw "a" or displayName pr')
    # No user has a displayName: ada (the only match among users) sorts after every group.
    assert names(body, {**staff, **teams}) == ["admins", "engineering", "sales", "ada"]


def test_root_search_cursor_pages_cover_both_types(contoso, staff, teams):
    walked = [searching(contoso, "", count=2, cursor="")]
    while "nextCursor" in walked[-1]:
        walked.append(searching(contoso, "", count=2, cursor=walked[-1]["nextCursor"]))
    visited = [resource for page in walked for resource in page["Resources"]]
    assert [len(page["Resources"]) for page in walked] == [2, 2, 2, 1]
    assert len({r["id"] for r in visited}) == 7
    kinds = [r["meta"]["resourceType"] for r in visited]
    assert kinds == ["User"] * 4 + ["Group"] * 3
    assert all(page["totalResults"] == 7 for page in walked)


def test_root_search_cursor_pages_with_a_filter(contoso, staff, teams):
    text = 'userName ew ".com" or displayName co "s"'
    walked = [searching(contoso, "", filter=text, count=1, cursor="")]
    while "nextCursor" in walked[-1]:
        walked.append(searching(contoso, "", filter=text, count=1, cursor=walked[-1]["nextCursor"]))
    visited = [resource_id for page in walked for resource_id in ids(page)]
    assert visited == ids(searching(contoso, "", filter=text))
    everyone = {**staff, **teams}
    assert {name for page in walked for name in names(page, everyone)} == {
        "ada",
        "carol",
        "dave",
        "sales",
        "admins",
    }


# --- filters no index answers ----------------------------------------------------------------


def test_an_unindexed_filter_returns_exactly_the_matches_and_their_total(contoso, staff):
    text = 'emails.value ew "example.com" and not (title eq "Director")'
    body = listing(contoso, "/Users", filter=text)
    assert names(body, staff) == ["ada"]
    assert body["totalResults"] == 1
    body = listing(
        contoso, "/Users", filter='emails.value ew "example.com"', count="1", startIndex="2"
    )
    assert body["totalResults"] == 2
    assert body["itemsPerPage"] == 1
    assert names(body, staff)[0] in {"ada", "dave"}


def test_a_get_on_the_root_search_is_a_scim_405(contoso: ScimClient) -> None:
    response = contoso.get("/.search")
    assert response.status == 405
    assert response.json()["schemas"] == [ERROR_SCHEMA]


def test_a_root_search_keeps_one_related_entries_budget_across_types(
    contoso: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sorted, users and groups interleave; the response's budget for related entries (Lambda's
    6 MB) is still one for the whole page, and the cursor resumes after what was sent."""
    first = contoso.create_user("a@x.com", displayName="a")["id"]
    second = contoso.create_user("c@x.com", displayName="c")["id"]
    for name in ("b", "d"):
        members = [{"value": first}, {"value": second}]
        created = contoso.post(
            "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}
        )
        assert created.status == 201
    monkeypatch.setattr(provisioning.api.resources, "RELATED_ENTRIES_PER_RESPONSE", 4)
    request = {"schemas": [SEARCH_REQUEST], "sortBy": "displayName", "cursor": ""}
    seen: list[str] = []
    while True:
        page = contoso.post("/.search", request).json()
        entries = sum(
            len(r.get("members", [])) + len(r.get("groups", [])) for r in page["Resources"]
        )
        assert entries <= 4 or page["itemsPerPage"] == 1
        seen += [r["displayName"] for r in page["Resources"]]
        if "nextCursor" not in page:
            break
        request["cursor"] = page["nextCursor"]
    assert seen == ["a", "b", "c", "d"]
