"""The stack over a real loopback socket, and `python -m provisioning.local` as `make run` runs it.

Every request here goes to 127.0.0.1 with a timeout, and every server stops by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from provisioning.local import LocalStack

from .conftest import GOOD

pytestmark = pytest.mark.http
TIMEOUT = 5
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_http_round_trip_over_loopback(stack: LocalStack) -> None:
    base_url = stack.serve(host="127.0.0.1", port=0)
    assert base_url.startswith("http://127.0.0.1:")
    with requests.Session() as http:
        response = http.post(
            f"{base_url}/items/42?tag=a&tag=b",
            headers={**GOOD, "Content-Type": "application/json"},
            data=b'{"n":1}',
            timeout=TIMEOUT,
        )
        assert response.status_code == 200
        assert response.headers["apigw-requestid"]
        event = response.json()["event"]
        assert event["pathParameters"] == {"id": "42"}
        assert event["queryStringParameters"] == {"tag": "a,b"}
        assert event["body"] == '{"n":1}'
        port = base_url.rsplit(":", 1)[1]
        assert event["headers"]["host"] == f"127.0.0.1:{port}"
        assert event["headers"]["x-forwarded-proto"] == "http"
        assert event["requestContext"]["domainName"] == "127.0.0.1"

        binary = http.get(f"{base_url}/results/binary", headers=GOOD, timeout=TIMEOUT)
        assert binary.content == bytes(range(256))
        cookies = http.get(f"{base_url}/results/cookies", headers=GOOD, timeout=TIMEOUT)
        assert cookies.status_code == 204
        assert cookies.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2; Secure"]

        assert http.get(f"{base_url}/items", timeout=TIMEOUT).status_code == 401
        missing = http.get(f"{base_url}/nowhere", timeout=TIMEOUT)
        assert missing.status_code == 404
        assert missing.json() == {"message": "Not Found"}

    stack.shutdown()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/items", headers=GOOD, timeout=TIMEOUT)


def test_serving_twice_is_refused(stack: LocalStack) -> None:
    stack.serve()
    with pytest.raises(RuntimeError, match="already serving"):
        stack.serve()


def test_make_run_prints_url_and_token_then_stops_cleanly_on_sigterm() -> None:
    token = "scim_demo_" + "t" * 43
    env = {**os.environ, "PORT": "0", "SCIM_DEMO_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioning.local"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url_line = process.stdout.readline().strip()
        token_line = process.stdout.readline().strip()
        assert url_line.startswith("SCIM URL: http://127.0.0.1:")
        assert url_line.endswith("/scim/v2")
        assert token_line == f"SCIM token: {token}"
        base = url_line.removeprefix("SCIM URL: ")
        config = requests.get(
            f"{base}/ServiceProviderConfig",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert config.status_code == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "GET /scim/v2/ServiceProviderConfig 200" in stderr


def test_make_run_refuses_a_demo_token_that_does_not_name_the_demo_organization() -> None:
    env = {**os.environ, "PORT": "0", "SCIM_DEMO_TOKEN": "hello"}
    finished = subprocess.run(
        [sys.executable, "-m", "provisioning.local"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert "SCIM_DEMO_TOKEN must be a token of the demo organization" in finished.stderr
    assert "Traceback" not in finished.stderr
