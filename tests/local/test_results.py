"""What API Gateway makes of a function's result: structured responses, inferred ones, failures."""

from __future__ import annotations

import logging

import pytest

from provisioning.local import LocalStack

from .conftest import GOOD


def test_structured_response_headers_are_lower_cased(stack: LocalStack) -> None:
    response = stack.request("GET", "/items", headers=GOOD)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["apigw-requestid"]


def test_bare_dict_becomes_a_json_200(stack: LocalStack) -> None:
    response = stack.request("GET", "/results/bare-dict", headers=GOOD)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "world"}


def test_bare_string_is_sent_as_it_is(stack: LocalStack) -> None:
    response = stack.request("GET", "/results/bare-str", headers=GOOD)
    assert response.status == 200
    assert response.body == b"plain words"


def test_base64_response_is_decoded_to_bytes(stack: LocalStack) -> None:
    response = stack.request("GET", "/results/binary", headers=GOOD)
    assert response.headers["content-type"] == "image/png"
    assert response.body == bytes(range(256))


def test_cookies_and_multi_value_headers(stack: LocalStack) -> None:
    response = stack.request("GET", "/results/cookies", headers=GOOD)
    assert response.status == 204
    assert response.cookies == ["a=1; Path=/", "b=2; Secure"]
    assert response.headers["x-many"] == "one,two"


def test_handler_exception_is_500_with_its_traceback_logged(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="provisioning.local"):
        response = stack.request("GET", "/results/unknown", headers=GOOD)
    assert response.status == 500
    assert response.body == b'{"message":"Internal Server Error"}'
    failures = [record for record in caplog.records if record.exc_info]
    assert failures
    assert "no such kind: unknown" in caplog.text
    assert "Traceback" in caplog.text


@pytest.mark.parametrize("kind", ["malformed", "unserializable"])
def test_invalid_lambda_result_is_500(stack: LocalStack, kind: str) -> None:
    response = stack.request("GET", f"/results/{kind}", headers=GOOD)
    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_handler_module_is_imported_once_per_stack(stack: LocalStack) -> None:
    for _ in range(3):
        assert stack.request("GET", "/results/imports", headers=GOOD).body == b"1"
