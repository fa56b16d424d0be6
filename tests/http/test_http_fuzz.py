"""Fuzzing the HTTP surface (issue 12): requests generated from the served SCIM schemas
(tests/http/fuzzing.py), valid-looking and hostile, sent through the local stack's gateway,
authorizer and functions. For every one of them:

- no answer is a 5xx;
- every 4xx is a SCIM Error (RFC 7644 §3.12): `application/scim+json`, the Error URN, `status`
  the HTTP status as a string;
- a request answered 4xx leaves the table as it was (every item but the request counters).

A 2xx is a request the generator happened to make valid: the table's state is taken again.
These are bounded, reproducible runs (derandomized); `make bench` runs the long one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings

from provisioning.local import LocalStack
from tests.conftest import REPO_ROOT
from tests.http import fuzzing
from tests.http.fuzzing import Fuzzer, FuzzRequest

# 80 examples per test (720 requests) keep this file near 30 s on two cores, alone.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
EXAMPLES = 80
# The fuzz sends hundreds of requests a second: far over an organization's request rate, whose
# 429s would hide every other answer.
UNTHROTTLED = {"OrgRequestsPerSecond": "10000"}


@pytest.fixture
def fuzzer() -> Iterator[Fuzzer]:
    with LocalStack.start(REPO_ROOT, parameters=UNTHROTTLED) as stack:
        yield Fuzzer(stack)


def holds(fuzzer: Fuzzer, request: FuzzRequest) -> None:
    outcome = fuzzer.check(request)
    event(f"{request.method} answered {outcome.status}")
    assert not outcome.broken, "\n".join(outcome.broken)


def test_the_generator_reads_the_schemas_discovery_serves(contoso) -> None:
    served = {
        schema["id"]: schema["attributes"] for schema in contoso.get("/Schemas").json()["Resources"]
    }
    for schema in fuzzing.TYPES.values():
        for urn in (schema.core, *(urn for urn, _ in schema.extensions)):
            assert list(fuzzing.served_schemas()[urn]["attributes"]) == served[urn]
    assert {"/Users", "/Groups"} <= set(fuzzing.TYPES)


@settings(FUZZ, max_examples=EXAMPLES)
@given(request=fuzzing.writes())
def test_resource_writes_never_fail_the_server_or_half_write(fuzzer, request) -> None:
    holds(fuzzer, request)


@settings(FUZZ, max_examples=EXAMPLES)
@given(request=fuzzing.patches())
def test_patches_never_fail_the_server_or_half_write(fuzzer, request) -> None:
    holds(fuzzer, request)


@settings(FUZZ, max_examples=EXAMPLES)
@given(request=fuzzing.listings())
def test_list_queries_are_answered_or_refused_as_scim(fuzzer, request) -> None:
    holds(fuzzer, request)


@settings(FUZZ, max_examples=EXAMPLES)
@given(request=fuzzing.searches())
def test_search_requests_are_answered_or_refused_as_scim(fuzzer, request) -> None:
    holds(fuzzer, request)


@settings(FUZZ, max_examples=EXAMPLES)
@given(request=fuzzing.reads_and_deletes())
def test_reads_deletes_and_unserved_methods_are_answered_as_scim(fuzzer, request) -> None:
    holds(fuzzer, request)


@settings(FUZZ, max_examples=EXAMPLES)
@given(body=fuzzing.raw_bodies())
def test_raw_bodies_on_every_write_are_answered_as_scim(fuzzer, body) -> None:
    for method, path in (
        ("POST", "/Users"),
        ("PUT", f"/Users/{fuzzing.USER_ID}"),
        ("PATCH", f"/Groups/{fuzzing.GROUP_ID}"),
        ("POST", "/.search"),
    ):
        holds(fuzzer, FuzzRequest(method, path, (), (), body))
