"""API rate limits (rest.py): per token, and per address for refused tokens; shared by instances through Redis."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]


def test_each_token_has_its_own_budget(app, client, make):
    app.config["SAFEHAVEN_API_RATE_LIMIT"] = "3 per minute"
    first, second = make.token(make.user("police")), make.token(make.user("police"))
    answers = [client.get("/api/v1/me", headers={"Authorization": f"Bearer {first}"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3" and 0 < int(answers[0].headers["RateLimit-Reset"]) <= 60
    refused = answers[3]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_refused_tokens_are_limited_per_address_as_sign_in_is(app, client, make):
    app.config["SAFEHAVEN_LOGIN_RATE_LIMIT"] = "3 per minute"
    good = {"Authorization": f"Bearer {make.token(make.user('police'))}"}
    # Requests without a token guess nothing and are not counted.
    assert {client.get("/api/v1/me").status_code for _ in range(5)} == {401}
    guesses = [client.get("/api/v1/me", headers={"Authorization": f"Bearer guess-{n}"}).status_code for n in range(4)]
    assert guesses == [401, 401, 401, 429]
    # The address is held, whatever token it sends now: a guesser learns nothing from the answers.
    assert client.get("/api/v1/me", headers=good).status_code == 429
    other = client.get("/api/v1/me", headers=good, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


INSTANCE = """
import json, sys
from app import create_app
from config import TestConfig
config = TestConfig(sys.argv[1])
config.RATELIMIT_STORAGE_URI = sys.argv[2]
config.SAFEHAVEN_API_RATE_LIMIT = "5 per minute"
client = create_app(config).test_client()
print(json.dumps([client.get("/api/v1/me", headers={"Authorization": "Bearer " + sys.argv[3]}).status_code
                  for _ in range(int(sys.argv[4]))]))
"""


@pytest.fixture
def private_redis(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _instance(database_url: str, redis_url: str, token: str, requests: int) -> list[int]:
    out = subprocess.run([sys.executable, "-c", INSTANCE, database_url, redis_url, token, str(requests)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_instances_share_a_tokens_budget_through_redis(app, make, database_url, private_redis):
    token = make.token(make.user("police"))
    first = _instance(database_url, private_redis, token, 3)
    second = _instance(database_url, private_redis, token, 3)
    assert first == [200, 200, 200]
    assert second == [200, 200, 429], "the second instance must count the first one's requests"


def test_a_refused_sign_in_page_says_when_to_retry(app, pages):
    app.config["SAFEHAVEN_LOGIN_RATE_LIMIT"] = "2 per minute"
    answers = [pages.login("nobody", "x" * 12) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60
    assert "RateLimit-Limit" not in answers[0].headers  # the budget headers are the API's
