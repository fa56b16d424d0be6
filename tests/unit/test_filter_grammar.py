"""The filter grammar of RFC 7644 §3.4.2.2, case by case, with the rules this service adds
(provisioning.scim.filters): each valid filter is evaluated against three fixed resources and
must select exactly the expected ones; each invalid one must fail as a 400 `invalidFilter`.

Endpoints: "Users" and "Groups" bind the filter to one resource type, "root" to both (the
root's `/.search`, RFC 7644 §3.4.2.1 and §3.4.3).
"""

from typing import Annotated, Any

import pytest
from scim2_models import InvalidFilterException, Required, Resource, ScimFilter
from scim2_models.urn import URN

from provisioning.scim.errors import error_body
from provisioning.scim.filters import MAX_FILTER_LENGTH, parse_filter
from provisioning.scim.resources import GROUP, USER, ResourceKind
from provisioning.scim.service import resource_model
from provisioning.store.resources import StoredResource

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

ADA_ID = "2819c223-7f76-453a-919d-413861904646"
BOB_ID = "902c246b-6245-4190-8e05-00816be7344a"
TEAM_ID = "e9e30dba-f08f-4109-8486-d5c6a331660a"

ADA = StoredResource(
    ADA_ID,
    3,
    {
        "schemas": [USER_URN, ENTERPRISE],
        "id": ADA_ID,
        "externalId": "Ada-External",
        "userName": "Ada.Lovelace@Example.com",
        "name": {"formatted": "Ms. Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "displayName": "Ada Lovelace",
        "nickName": 'Enchantress of "Numbers"',
        "title": "Chief Analyst",
        "active": True,
        "emails": [
            {"value": "ada@example.com", "type": "work", "primary": True},
            {"value": "ada@home.example.org", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        ENTERPRISE: {
            "employeeNumber": "1815",
            "department": "Analytical Engines",
            "manager": {"value": BOB_ID},
        },
        "meta": {
            "resourceType": "User",
            "created": "2021-01-01T00:00:00Z",
            "lastModified": "2021-06-15T12:30:00Z",
        },
    },
)
BOB = StoredResource(
    BOB_ID,
    1,
    {
        "schemas": [USER_URN],
        "id": BOB_ID,
        "externalId": "bob-external",
        "userName": "bob@example.org",
        "name": {"familyName": "Babbage", "givenName": "Charles"},
        "displayName": "Charles Babbage",
        "active": False,
        "emails": [{"value": "bob@example.org", "type": "work"}],
        "meta": {
            "resourceType": "User",
            "created": "2022-03-04T05:06:07Z",
            "lastModified": "2022-03-04T05:06:07Z",
        },
    },
)
TEAM = StoredResource(
    TEAM_ID,
    7,
    {
        "schemas": [GROUP_URN],
        "id": TEAM_ID,
        "externalId": "grp-ENG",
        "displayName": "Analytical Engines",
        "meta": {
            "resourceType": "Group",
            "created": "2020-05-01T00:00:00Z",
            "lastModified": "2023-01-01T00:00:00+00:00",
        },
    },
)

FIXTURES: dict[str, tuple[ResourceKind, StoredResource]] = {
    "ada": (USER, ADA),
    "bob": (USER, BOB),
    "team": (GROUP, TEAM),
}
ENDPOINTS: dict[str, tuple[type[Resource[Any]], ...]] = {
    "Users": (USER.model,),
    "Groups": (GROUP.model,),
    "root": (USER.model, GROUP.model),
}


def selected(endpoint: str, text: str) -> set[str]:
    """Which fixtures the endpoint's filter selects, each read as the search path reads it."""
    models = ENDPOINTS[endpoint]
    scim_filter = parse_filter(text, *models, strict=True)
    assert scim_filter is not None
    return {
        name
        for name, (kind, stored) in FIXTURES.items()
        if kind.model in models and scim_filter.match(resource_model(kind, stored))
    }


def case(endpoint: str, text: str, expected: set[str], name: str) -> Any:
    return pytest.param(endpoint, text, expected, id=name)


EXT = ENTERPRISE  # the enterprise extension's URN, which qualifies its attributes (§3.10)

VALID = [
    # --- attribute operators (RFC 7644 §3.4.2.2, Table 3) ---------------------------------
    case("Users", 'userName eq "Ada.Lovelace@Example.com"', {"ada"}, "eq"),
    case("Users", 'userName ne "bob@example.org"', {"ada"}, "ne"),
    case("Users", 'userName co "lovelace"', {"ada"}, "co"),
    case("Users", 'userName sw "bob@"', {"bob"}, "sw"),
    case("Users", 'userName ew ".org"', {"bob"}, "ew"),
    case("Users", 'userName sw "bob@example.org"', {"bob"}, "sw satisfied by the identical string"),
    case("Users", 'userName ew "bob@example.org"', {"bob"}, "ew satisfied by the identical string"),
    case("Users", 'userName co "bob@example.org"', {"bob"}, "co satisfied by the identical string"),
    case("Users", 'userName gt "b"', {"bob"}, "gt compares strings lexicographically"),
    case("Users", 'userName ge "bob@example.org"', {"bob"}, "ge includes the equal string"),
    case("Users", 'userName lt "b"', {"ada"}, "lt"),
    case("Users", 'userName le "ada.lovelace@example.com"', {"ada"}, "le ignores case"),
    case("Users", 'userName gt "bob@example.org"', set(), "gt excludes the equal string"),
    case("Users", 'title eq "Chief Analyst"', {"ada"}, "eq on a string attribute"),
    case("Users", 'displayName co " "', {"ada", "bob"}, "co with a space"),
    # --- caseExact per schema (RFC 7643 §2.2, §3.1, §4.1) ---------------------------------
    case("Users", 'userName eq "ADA.LOVELACE@EXAMPLE.COM"', {"ada"}, "userName is not caseExact"),
    case("Users", 'userName co "LOVELACE@"', {"ada"}, "co ignores case on userName"),
    case("Users", f'id eq "{ADA_ID}"', {"ada"}, "id eq"),
    case("Users", f'id eq "{ADA_ID.upper()}"', set(), "id is caseExact"),
    case("Users", 'externalId eq "Ada-External"', {"ada"}, "externalId eq"),
    case("Users", 'externalId eq "ada-external"', set(), "externalId is caseExact"),
    case("Users", 'externalId co "External"', {"ada"}, "co on externalId keeps case"),
    case("Users", 'externalId co "EXTERNAL"', set(), "co on externalId does not fold case"),
    case("Users", 'emails.value eq "ADA@EXAMPLE.COM"', {"ada"}, "emails.value is not caseExact"),
    case("Users", 'name.familyName eq "LOVELACE"', {"ada"}, "name.familyName is not caseExact"),
    case("Users", 'emails.type eq "HOME"', {"ada"}, "emails.type is not caseExact"),
    # --- booleans (RFC 7643 §2.3.2) ----------------------------------------------------------
    case("Users", "active eq true", {"ada"}, "boolean eq true"),
    case("Users", "active eq false", {"bob"}, "boolean eq false"),
    case("Users", "active ne true", {"bob"}, "boolean ne"),
    case("Users", "active pr", {"ada", "bob"}, "false is a value: pr"),
    case("Users", "emails.primary eq true", {"ada"}, "boolean sub-attribute"),
    case("Users", "active eq TRUE", {"ada"}, "ABNF literals are case-insensitive (RFC 5234)"),
    case("Users", "active eq False", {"bob"}, "False literal"),
    # --- presence -----------------------------------------------------------------------------
    case("Users", "title pr", {"ada"}, "pr"),
    case("Users", "nickName pr", {"ada"}, "pr on another string"),
    case("Users", "name pr", {"ada", "bob"}, "pr on a complex attribute"),
    case("Users", "phoneNumbers pr", {"ada"}, "pr on a multi-valued attribute"),
    case("Users", "emails.primary pr", {"ada"}, "pr on a sub-attribute of some values"),
    case("Users", "name.formatted pr", {"ada"}, "pr on a sub-attribute"),
    case("Users", "title PR", {"ada"}, "PR is case-insensitive"),
    # --- null (RFC 7643 §2.5: null is unassigned) --------------------------------------------
    case("Users", "title eq null", {"bob"}, "eq null: unassigned"),
    case("Users", "title ne null", {"ada"}, "ne null: assigned"),
    case("Users", f"{EXT}:employeeNumber eq null", {"bob"}, "eq null on an extension"),
    case("Users", "phoneNumbers.value eq null", {"bob"}, "eq null on a multi-valued attribute"),
    # --- sub-attributes and attribute notation (RFC 7644 §3.10) -------------------------------
    case("Users", 'name.familyName eq "Babbage"', {"bob"}, "sub-attribute"),
    case("Users", 'name.givenName sw "A"', {"ada"}, "sub-attribute sw"),
    case("Users", f'{USER_URN}:name.familyName eq "Lovelace"', {"ada"}, "core URN qualified"),
    case(
        "Users",
        f'{USER_URN.upper()}:USERNAME eq "bob@example.org"',
        {"bob"},
        "URN and attribute name are case-insensitive",
    ),
    case("Users", 'USERNAME eq "bob@example.org"', {"bob"}, "attribute names are case-insensitive"),
    case(
        "Users", 'name.FAMILYNAME eq "Babbage"', {"bob"}, "sub-attribute names are case-insensitive"
    ),
    case("Users", 'emails.type eq "work"', {"ada", "bob"}, "multi-valued: any value matches"),
    case(
        "Users",
        'emails eq "ada@home.example.org"',
        {"ada"},
        "a multi-valued attribute compares its values",
    ),
    case("Users", 'emails co "example.org"', {"ada", "bob"}, "co on emails (RFC 7644 Figure 2)"),
    case("Users", 'emails.value ew "example.com"', {"ada"}, "ew on emails.value"),
    case("Users", 'emails.type ne "home"', {"bob"}, "ne on multi-valued: no value equals"),
    case(
        "Users",
        'emails.type eq "home" and emails.primary eq true',
        {"ada"},
        "two sub-attribute tests may match different values",
    ),
    # --- the enterprise extension by full URN -------------------------------------------------
    case("Users", f'{EXT}:employeeNumber eq "1815"', {"ada"}, "extension attribute"),
    case("Users", f'{EXT}:department co "engine"', {"ada"}, "extension attribute co"),
    case("Users", f'{EXT}:manager.value eq "{BOB_ID}"', {"ada"}, "extension sub-attribute"),
    case("Users", f"{EXT}:manager pr", {"ada"}, "extension complex pr"),
    case(
        "Users",
        f'{EXT.lower()}:EMPLOYEENUMBER eq "1815"',
        {"ada"},
        "extension URN is case-insensitive",
    ),
    case("Users", f"not ({EXT}:employeeNumber pr)", {"bob"}, "not on an extension a user lacks"),
    case("Users", f'schemas eq "{EXT}"', {"ada"}, "schemas eq the extension"),
    case("Users", f'schemas eq "{USER_URN}"', {"ada", "bob"}, "schemas eq the core schema"),
    # --- meta and dateTime (RFC 7643 §2.3.5, §3.1) --------------------------------------------
    case("Users", 'meta.resourceType eq "User"', {"ada", "bob"}, "meta.resourceType"),
    case("Users", 'meta.created gt "2021-06-01T00:00:00Z"', {"bob"}, "dateTime gt"),
    case("Users", 'meta.created lt "2022-01-01T00:00:00Z"', {"ada"}, "dateTime lt"),
    case("Users", 'meta.created ge "2021-01-01T00:00:00Z"', {"ada", "bob"}, "dateTime ge"),
    case("Users", 'meta.created gt "2021-01-01T00:00:00Z"', {"bob"}, "dateTime gt is strict"),
    case("Users", 'meta.created eq "2021-01-01T00:00:00Z"', {"ada"}, "dateTime eq"),
    case(
        "Users",
        'meta.created eq "2021-01-01T01:00:00+01:00"',
        {"ada"},
        "dateTime with an offset is the same instant",
    ),
    case(
        "Users",
        'meta.lastModified eq "2021-06-15T08:30:00-04:00"',
        {"ada"},
        "dateTime with a negative offset",
    ),
    case(
        "Users",
        'meta.created le "2021-01-01T00:00:00.000Z"',
        {"ada"},
        "dateTime with fractional seconds",
    ),
    case("Users", 'meta.created ne "2021-01-01T00:00:00Z"', {"bob"}, "dateTime ne"),
    case(
        "Users",
        'meta.lastModified gt "2022-01-01T00:00:00Z" and meta.created lt "2023-01-01T00:00:00Z"',
        {"bob"},
        "a dateTime range",
    ),
    case("Users", "meta.lastModified pr", {"ada", "bob"}, "meta.lastModified pr"),
    case("Users", 'meta.version eq "W/\\"3\\""', {"ada"}, "meta.version with escaped quotes"),
    # --- logical operators and precedence (RFC 7644 §3.4.2.2, Table 4) ----------------------
    case("Users", 'userName sw "a" and active eq true', {"ada"}, "and"),
    case("Users", 'userName sw "a" or userName sw "b"', {"ada", "bob"}, "or"),
    case(
        "Users",
        'userName sw "b" or userName sw "a" and active eq false',
        {"bob"},
        "and binds tighter than or (right)",
    ),
    case(
        "Users",
        'userName sw "a" and active eq false or userName sw "b"',
        {"bob"},
        "and binds tighter than or (left)",
    ),
    case(
        "Users",
        '(userName sw "b" or userName sw "a") and active eq true',
        {"ada"},
        "parentheses override precedence",
    ),
    case("Users", "((((active eq true))))", {"ada"}, "nested parentheses"),
    case("Users", "not (active eq true)", {"bob"}, "not"),
    case("Users", "not (not (active eq true))", {"ada"}, "nested not"),
    case("Users", "not (not (not (title pr)))", {"bob"}, "triple not"),
    case("Users", 'not (userName sw "a" and active eq true)', {"bob"}, "not of an and"),
    case("Users", "not (active eq true) and not (title pr)", {"bob"}, "and of two nots"),
    case("Users", "not(active eq true)", {"bob"}, 'not( without a space (ABNF *1"not" "(")'),
    case("Users", "NOT (active eq true)", {"bob"}, "NOT is case-insensitive"),
    case("Users", 'userName SW "a" AND active Eq true', {"ada"}, "operators are case-insensitive"),
    case("Users", 'userName sw "z" OR active eq false', {"bob"}, "OR is case-insensitive"),
    case("Users", '  userName   eq   "bob@example.org"  ', {"bob"}, "extra whitespace"),
    case(
        "Users",
        f'id eq "{ADA_ID}" or id eq "{BOB_ID}" or userName eq "nobody"',
        {"ada", "bob"},
        "or of equalities",
    ),
    case(
        "Users",
        'active eq true and title pr and name.givenName eq "Ada"',
        {"ada"},
        "chain of three ands",
    ),
    case("Users", 'userName eq "nobody"', set(), "matches nothing"),
    case("Users", 'userName eq "x" and not (userName eq "x")', set(), "contradiction"),
    case("Users", 'userName eq "x" or not (userName eq "x")', {"ada", "bob"}, "tautology"),
    # --- value paths: attrPath[valFilter] (RFC 7644 §3.4.2.2, Figure 1) -----------------------
    case("Users", 'emails[type eq "work"]', {"ada", "bob"}, "value path"),
    case("Users", 'emails[type eq "home"]', {"ada"}, "value path, one user"),
    case("Users", 'emails[type eq "work" and value ew ".org"]', {"bob"}, "and inside brackets"),
    case("Users", 'emails[type eq "home" or primary eq true]', {"ada"}, "or inside brackets"),
    case("Users", 'emails[not (type eq "work")]', {"ada"}, "not inside brackets"),
    case(
        "Users",
        'emails[type eq "work" and not (value co "ada")]',
        {"bob"},
        "and not inside brackets",
    ),
    case(
        "Users",
        'emails[type eq "home" and primary eq true]',
        set(),
        "one value must satisfy the whole bracket",
    ),
    case(
        "Users",
        'emails[(type eq "work" or type eq "home") and value sw "ada"]',
        {"ada"},
        "parentheses inside brackets",
    ),
    case("Users", "emails[value pr]", {"ada", "bob"}, "pr inside brackets"),
    case("Users", "emails[primary pr]", {"ada"}, "pr of a sub-attribute some values lack"),
    case("Users", 'EMAILS[Type EQ "HOME"]', {"ada"}, "value path is case-insensitive"),
    case(
        "Users", 'emails[type eq "home"] or active eq false', {"ada", "bob"}, "value path in an or"
    ),
    case("Users", 'not (emails[type eq "home"])', {"bob"}, "not of a value path"),
    case(
        "Users",
        'phoneNumbers[type eq "work" and value co "7946"]',
        {"ada"},
        "value path on phoneNumbers",
    ),
    case(
        "Users",
        'emails[type eq "work"].value eq "bob@example.org"',
        {"bob"},
        "Entra's valuePath.subAttr comparison (an extension of the ABNF)",
    ),
    case("Users", 'emails[type eq "home"].value pr', {"ada"}, "Entra's valuePath.subAttr pr"),
    # --- string escapes (RFC 7644 §3.4.2.2: JSON strings, RFC 7159 §7) -----------------------
    case("Users", 'nickName eq "Enchantress of \\"Numbers\\""', {"ada"}, "escaped quotes"),
    case("Users", 'nickName co "\\""', {"ada"}, "a lone escaped quote"),
    case("Users", 'name.givenName eq "\\u0041da"', {"ada"}, "unicode escape"),
    case("Users", 'displayName eq "Ada\\u0020Lovelace"', {"ada"}, "escaped space"),
    case("Users", 'userName eq "x\\" or userName pr"', set(), "a quoted operator is a value"),
    # --- Groups -------------------------------------------------------------------------------
    case("Groups", 'displayName eq "analytical engines"', {"team"}, "Group displayName eq"),
    case("Groups", 'displayName co "Engine"', {"team"}, "Group displayName co"),
    case("Groups", 'externalId eq "grp-ENG"', {"team"}, "Group externalId eq"),
    case("Groups", 'externalId eq "grp-eng"', set(), "Group externalId is caseExact"),
    case("Groups", f'id eq "{TEAM_ID}"', {"team"}, "Group id eq"),
    case("Groups", 'meta.lastModified eq "2023-01-01T00:00:00Z"', {"team"}, "Group dateTime"),
    case("Groups", "not (displayName pr)", set(), "Group not pr"),
    case("Groups", f'schemas eq "{GROUP_URN}"', {"team"}, "Group schemas"),
    case("Groups", 'meta.resourceType eq "Group"', {"team"}, "Group meta.resourceType"),
    # --- the root: a filter bound to both types (RFC 7644 §3.4.2.1) --------------------------
    case("root", 'meta.resourceType eq "Group"', {"team"}, "root: meta.resourceType Group"),
    case("root", 'meta.resourceType eq "User"', {"ada", "bob"}, "root: meta.resourceType User"),
    case("root", 'displayName sw "A"', {"ada", "team"}, "root: an attribute both types declare"),
    case("root", "active eq true", {"ada"}, "root: a User attribute is false on a Group"),
    case(
        "root",
        "not (active eq true)",
        {"bob", "team"},
        "root: a Group has no value for a User attribute",
    ),
    case("root", "userName pr", {"ada", "bob"}, "root: pr of a User attribute"),
    case("root", 'externalId eq "grp-ENG"', {"team"}, "root: externalId"),
    case("root", f'id eq "{TEAM_ID}" or id eq "{ADA_ID}"', {"ada", "team"}, "root: ids"),
    case("root", f'schemas eq "{GROUP_URN}"', {"team"}, "root: schemas"),
    case("root", 'meta.created lt "2021-01-01T00:00:00Z"', {"team"}, "root: dateTime"),
    case("root", f"{EXT}:employeeNumber pr", {"ada"}, "root: extension attribute"),
    case(
        "root",
        'displayName eq "analytical engines" and meta.resourceType eq "Group"',
        {"team"},
        "root: restricted to one type",
    ),
    case(
        "root",
        'emails[type eq "work"] or displayName co "Engines"',
        {"ada", "bob", "team"},
        "root: value path or Group attribute",
    ),
    case("root", f'{USER_URN}:userName sw "a"', {"ada"}, "root: core URN of one type"),
]


@pytest.mark.parametrize(("endpoint", "text", "expected"), VALID)
def test_valid_filter_selects_exactly(endpoint: str, text: str, expected: set[str]) -> None:
    assert selected(endpoint, text) == expected


def invalid(endpoint: str, text: str, name: str) -> Any:
    return pytest.param(endpoint, text, id=name)


INVALID = [
    # --- syntax (RFC 7644 §3.4.2.2 ABNF, Figure 1) --------------------------------------------
    invalid("Users", "userName eq", "missing value"),
    invalid("Users", 'eq "x"', "missing attribute"),
    invalid("Users", 'userName eq "x" and', "dangling and"),
    invalid("Users", 'or userName eq "x"', "leading or"),
    invalid("Users", '(userName eq "x"', "unbalanced parenthesis"),
    invalid("Users", 'userName eq "x")', "extra closing parenthesis"),
    invalid("Users", "()", "empty parentheses"),
    invalid("Users", 'userName zz "x"', "unknown operator"),
    invalid("Users", 'userName equals "x"', "operator spelled out"),
    invalid("Users", 'userName == "x"', "symbolic operator"),
    invalid("Users", "userName eq bjensen", "unquoted string"),
    invalid("Users", "userName eq 'bjensen'", "single quotes"),
    invalid("Users", 'userName eq "abc', "unterminated string"),
    invalid("Users", 'userName eq "\\x"', "invalid escape"),
    invalid("Users", 'userName eq "a" "b"', "two values"),
    invalid("Users", 'title pr "x"', "pr with a value"),
    invalid("Users", 'not userName eq "x"', "not without parentheses"),
    invalid("Users", 'emails[type eq "work"', "unclosed bracket"),
    invalid("Users", 'emails[type eq "work" and]', "dangling and inside brackets"),
    invalid("Users", "emails[]", "empty brackets"),
    invalid("Users", 'emails[type[value eq "x"]]', "nested value path (errata 4690)"),
    invalid(
        "Users",
        'emails[type eq "work"].value',
        "valuePath.subAttr is a PATCH path, not a filter",
    ),
    invalid("Users", 'name.familyName.x eq "x"', "two levels of sub-attribute"),
    invalid("Users", "meta.created gt 01", "number with a leading zero"),
    invalid("Users", 'userName eq "x" and and active eq true', "doubled and"),
    invalid("Users", 'userName eq "' + "x" * MAX_FILTER_LENGTH + '"', "longer than the limit"),
    invalid("Users", "not (" * 40 + "active eq true" + ")" * 40, "nested too deep"),
    # --- attributes the endpoint does not declare ---------------------------------------------
    invalid("Users", 'nickname2 eq "x"', "unknown attribute"),
    invalid("Users", "favouriteColour pr", "unknown attribute with pr"),
    invalid("Users", 'name.nickname eq "x"', "unknown sub-attribute"),
    invalid("Users", 'urn:example:schemas:Custom:foo eq "x"', "unknown URN"),
    invalid("Users", f'{EXT}:shoeSize eq "x"', "unknown attribute of a known extension"),
    invalid("Users", 'employeeNumber eq "1815"', "extension attribute without its URN"),
    invalid("Users", f'{GROUP_URN}:displayName eq "x"', "another type's URN on Users"),
    invalid("Users", 'emails[label eq "x"]', "unknown sub-attribute inside brackets"),
    invalid("Users", "members pr", "a Group attribute on Users"),
    invalid("Groups", 'userName eq "x"', "a User attribute on Groups"),
    invalid("Groups", "active eq true", "a User boolean on Groups"),
    invalid("root", 'favouriteColour eq "x"', "root: an attribute no type declares"),
    invalid("root", f"{EXT}:shoeSize pr", "root: unknown extension attribute"),
    # --- a value selection needs a multi-valued attribute -------------------------------------
    invalid("Users", 'name[givenName eq "Ada"]', "brackets on a single-valued attribute"),
    # --- complex attributes compare through a sub-attribute -----------------------------------
    invalid("Users", 'name eq "Ada"', "complex attribute compared whole"),
    invalid("Users", f'{EXT}:manager eq "x"', "extension complex attribute compared whole"),
    invalid("Users", 'meta gt "x"', "meta compared whole"),
    # --- typed values (RFC 7643 §2.3) ----------------------------------------------------------
    invalid("Users", 'active eq "true"', "boolean compared with a string"),
    invalid("Users", "active eq 1", "boolean compared with a number"),
    invalid("Users", 'emails.primary eq "false"', "boolean sub-attribute compared with a string"),
    invalid("Users", "active gt false", "gt on a boolean"),
    invalid("Users", "active le true", "le on a boolean"),
    invalid("Users", "emails.primary ge true", "ge on a boolean sub-attribute"),
    invalid("Users", 'active co "t"', "co on a boolean"),
    invalid("Users", "userName eq 42", "string compared with a number"),
    invalid("Users", "title eq true", "string compared with a boolean"),
    invalid("Users", "emails co 3", "co with a number"),
    invalid("Users", "userName sw 1.5", "sw with a decimal"),
    invalid("Users", 'emails.value eq "not an address"', "email value that is not an address"),
    invalid("Users", 'x509Certificates.value gt "aGk="', "gt on a binary attribute"),
    invalid("Users", 'x509Certificates.value eq "not base64!"', "binary value that is not base64"),
    invalid("Users", "meta.resourceType eq 1", "meta.resourceType compared with a number"),
    invalid("Groups", "displayName eq 1", "Group displayName compared with a number"),
    invalid("root", 'active eq "true"', "root: typed even where one type declares it"),
    # --- dateTime (RFC 7643 §2.3.5: xsd:dateTime) ----------------------------------------------
    invalid("Users", "meta.created gt 1609459200", "dateTime compared with a number"),
    invalid("Users", 'meta.created gt "yesterday"', "unparsable dateTime"),
    invalid("Users", 'meta.created gt "2021-01-01"', "date without a time"),
    invalid("Users", 'meta.created gt "2021-01-01T00:00:00"', "dateTime without an offset"),
    invalid("Users", 'meta.created gt "2021-01-01 00:00:00Z"', "dateTime with a space"),
    invalid("Users", 'meta.lastModified lt "2021-13-01T00:00:00Z"', "month 13"),
    invalid("Users", 'meta.created co "2021"', "co on a dateTime"),
    invalid("Users", 'meta.created sw "2021"', "sw on a dateTime"),
    invalid("Users", "meta.created eq true", "dateTime compared with a boolean"),
    # --- null only tests for unassigned (RFC 7643 §2.5) ---------------------------------------
    invalid("Users", "title gt null", "gt null"),
    invalid("Users", "title co null", "co null"),
    invalid("Users", "meta.created lt null", "lt null on a dateTime"),
    # --- attributes the stored resource does not carry ----------------------------------------
    invalid("Users", 'password eq "secret"', "password is never stored"),
    invalid("Users", 'password co "s"', "password with co"),
    invalid("Users", 'groups.value eq "x"', "groups come from memberships"),
    invalid("Users", "groups pr", "groups pr"),
    # a group's members: only equality with member ids (what scim/search.py evaluates exactly)
    invalid("Groups", "members pr", "members pr"),
    invalid("Groups", 'members co "x"', "members co"),
    invalid("Groups", 'members.value sw "x"', "members.value sw"),
    invalid("Groups", "members eq null", "members eq null"),
    invalid("Groups", 'members.display eq "x"', "members.display"),
    invalid("Groups", 'members.type eq "User"', "members.type"),
    invalid("Groups", 'members[type eq "User"]', "members value path on type"),
    invalid("Groups", 'members[value ne "x"]', "members value path with ne"),
    invalid("Groups", 'members[not (value eq "x")]', "members value path with not"),
    invalid("Groups", 'members[value eq "x" or value pr]', "members value path with pr"),
    invalid("root", 'members co "x"', "root: members co"),
    invalid("Users", 'meta.location co "Users"', "meta.location is built per response"),
]


@pytest.mark.parametrize(("endpoint", "text"), INVALID)
def test_invalid_filter_is_a_400_invalid_filter(endpoint: str, text: str) -> None:
    with pytest.raises(InvalidFilterException) as caught:
        parse_filter(text, *ENDPOINTS[endpoint], strict=True)
    assert error_body(caught.value) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidFilter",
        "detail": caught.value.detail,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f'members eq "{ADA_ID}"', True, id="members eq"),
        pytest.param(f'members.value eq "{ADA_ID}"', True, id="members.value eq"),
        pytest.param(f'{GROUP_URN}:members eq "{ADA_ID}"', True, id="qualified members eq"),
        pytest.param(f'members[value eq "{ADA_ID}"]', True, id="members value path"),
        pytest.param(
            f'members[value eq "{BOB_ID}" or value eq "{ADA_ID}"]', True, id="value path or"
        ),
        pytest.param(f'members eq "{BOB_ID}"', False, id="another user"),
        pytest.param(f'members ne "{ADA_ID}"', False, id="members ne"),
        pytest.param(f'not (members eq "{ADA_ID}")', False, id="not members eq"),
        pytest.param(f'members ne "{BOB_ID}"', True, id="members ne another user"),
        pytest.param(
            f'id eq "{TEAM_ID}" and members eq "{ADA_ID}"', True, id="Entra's member check"
        ),
        pytest.param(f'members eq "{ADA_ID.upper()}"', False, id="member ids are caseExact"),
    ],
)
def test_member_id_equality_is_accepted_and_evaluated(text: str, expected: bool) -> None:
    """A group's members are stored apart from it; search presents a group with the members the
    filter names that it holds (here: ada), and only equality with ids is exact on that."""
    parsed = parse_filter(text, GROUP.model, strict=True)
    assert parsed is not None
    held = StoredResource(TEAM_ID, 7, {**TEAM.body, "members": [{"value": ADA_ID}]})
    assert parsed.match(resource_model(GROUP, held)) is expected


def test_the_tables_cover_the_grammar_broadly() -> None:
    assert len(VALID) + len(INVALID) >= 120


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_blank_filter_means_no_filter(text: str | None) -> None:
    assert parse_filter(text, USER.model, strict=True) is None


def test_several_models_bind_the_filter_to_their_union() -> None:
    parsed = parse_filter('displayName sw "A"', USER.model, GROUP.model, strict=True)
    assert parsed is not None
    assert parsed.models == (USER.model, GROUP.model)


def test_one_model_binds_the_filter_to_it() -> None:
    parsed = parse_filter('displayName sw "A"', GROUP.model)
    assert parsed is not None
    assert parsed.model is GROUP.model


def test_a_filter_needs_a_resource_type() -> None:
    with pytest.raises(TypeError):
        parse_filter('userName eq "x"')


def test_without_strict_an_undeclared_attribute_is_unassigned() -> None:
    """RFC 7644 §3.4.2.1: what a value filter read apart from its attribute relies on."""
    parsed = parse_filter('value eq "a" or favouriteColour pr', GROUP.model)
    assert parsed is not None
    team = resource_model(GROUP, TEAM)
    assert not parsed.match(team)
    negated = parse_filter("not (favouriteColour pr)", GROUP.model)
    assert negated is not None
    assert negated.match(team)


def test_without_strict_typed_values_are_still_checked() -> None:
    with pytest.raises(InvalidFilterException):
        parse_filter("displayName eq true", GROUP.model)


def test_the_error_keeps_the_filter_it_refused() -> None:
    with pytest.raises(InvalidFilterException) as caught:
        parse_filter('active eq "true"', USER.model, strict=True)
    assert caught.value.filter == 'active eq "true"'
    assert "boolean" in caught.value.detail


class Device(Resource[Any]):
    """A resource type with numbers, which neither User nor Group has (RFC 7643 §2.3.3-§2.3.4)."""

    __schema__ = URN("urn:example:params:scim:schemas:Device")

    serial: Annotated[int | None, Required.false] = None
    weight: float | None = None


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("serial eq 7", True),
        ("serial gt 6", True),
        ("serial le 6", False),
        ("weight lt 2.5", True),
        ("weight ge 2.25", True),
        ("weight eq 2.25", True),
        ("serial eq 7 and weight gt 2", True),
    ],
)
def test_numbers_compare_numerically(text: str, matches: bool) -> None:
    parsed = parse_filter(text, Device, strict=True)
    assert parsed is not None
    assert parsed.match(Device(serial=7, weight=2.25)) is matches


@pytest.mark.parametrize(
    "text",
    ['serial eq "7"', "serial eq true", 'serial co "7"', 'weight sw "2"', "weight gt false"],
)
def test_numbers_refuse_values_of_another_type(text: str) -> None:
    with pytest.raises(InvalidFilterException):
        parse_filter(text, Device, strict=True)


def test_the_filter_is_a_scim2_models_filter() -> None:
    parsed = parse_filter('userName eq "x"', USER.model)
    assert isinstance(parsed, ScimFilter)
    assert str(parsed) == 'userName eq "x"'
