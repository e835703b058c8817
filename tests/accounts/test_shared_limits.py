"""Several app processes share one sign-in throttle through Redis (REDIS_URL), as a deployment's
instances would: two separate Python processes, alternating like a load balancer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]

# One instance: sign-in attempts as a browser would make them, printing the answers' status codes.
INSTANCE = """
import json, re, sys
from app import create_app
from config import TestConfig
config = TestConfig(sys.argv[1])
config.RATELIMIT_STORAGE_URI = sys.argv[2]
config.RATELIMIT_KEY_PREFIX = sys.argv[3]
client = create_app(config).test_client()
answers = []
for _ in range(int(sys.argv[4])):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    answers.append(client.post("/login", data={"username": "nobody", "password": "x" * 12,
                                               "csrf_token": token}).status_code)
print(json.dumps(answers))
"""


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def _instance(database_url: str, prefix: str, attempts: int) -> list[int]:
    out = subprocess.run([sys.executable, "-c", INSTANCE, database_url, REDIS_URL, prefix, str(attempts)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_two_instances_count_sign_in_attempts_together(app, database_url):  # noqa: ARG001 - app: the schema
    prefix = f"safehaven-test-{uuid.uuid4().hex}"  # this test's own counters
    first = _instance(database_url, prefix, 6)
    second = _instance(database_url, prefix, 5)
    assert first == [200] * 6
    assert second == [200] * 4 + [429], "the second instance must count the first one's attempts"
