"""scimctl signs requests to AWS with SigV4 for execute-api, and never those to loopback."""

from __future__ import annotations

import pytest

from provisioning.admin.cli import CliError, is_loopback, sigv4_headers

API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/admin/orgs"


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/admin", True),
        ("http://localhost:8000/admin", True),
        ("http://[::1]:8000/admin", True),
        (API, False),
        ("https://admin.example.com/admin", False),
    ],
)
def test_only_loopback_urls_go_unsigned(url, expected):
    assert is_loopback(url) is expected


def test_signature_is_for_execute_api_in_the_api_region(credentials):
    headers = sigv4_headers("POST", API, b"{}", {"Content-Type": "application/json"})
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "X-Amz-Date" in headers


def test_custom_domain_without_a_region_needs_one(credentials, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(CliError, match="region"):
        sigv4_headers("GET", "https://admin.example.com/admin/orgs", b"", {})
