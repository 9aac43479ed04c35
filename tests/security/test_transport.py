"""The client address cannot be faked, and unfinished requests are not held forever."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hangar.api.hardening import json_depth_exceeds, parse_networks, real_client
from tests.auth.conftest import AuthHangar

CONFIG = """
auth:
  enabled: true
  rate_limit: {requests_per_second: 10000, burst: 10000}
  lockout: {max_failures: 3, window_s: 60, lockout_s: 60}
server:
  header_timeout_s: 1
  body_timeout_s: 1
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    proc = AuthHangar(Path(tmp_path_factory.mktemp("transport")), CONFIG).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_forwarded_for_is_trusted_only_from_configured_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "::1"])
    assert real_client("127.0.0.1", ["1.2.3.4"], proxies) == "127.0.0.1"  # not a proxy: ignored
    assert real_client("10.1.1.1", ["6.6.6.6, 1.2.3.4"], proxies) == "1.2.3.4"  # right-most untrusted hop
    assert real_client("10.1.1.1", ["1.2.3.4, 10.2.2.2"], proxies) == "1.2.3.4"
    assert real_client("10.1.1.1", ["not-an-ip"], proxies) == "10.1.1.1"
    assert real_client("10.1.1.1", ["1.2.3.4"], []) == "10.1.1.1"


def test_json_depth_scan() -> None:
    assert not json_depth_exceeds(b'{"a": "[[[[[[[[[[[[[["}', 4)
    assert json_depth_exceeds(b"[[[[[]]]]]", 4)
    assert not json_depth_exceeds(b'["\\"[[[[[[[["]', 2)


def test_slow_loris_connections_are_closed(server: AuthHangar) -> None:
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /api/system HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        socks.append(s)
    body_sock = socket.create_connection(("127.0.0.1", server.port))
    body_sock.sendall(b"POST /api/providers HTTP/1.1\r\nHost: x\r\nX-API-Key: " + server.admin_key.encode()
                      + b"\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{")
    socks.append(body_sock)
    started = time.monotonic()
    try:
        for s in socks:
            s.settimeout(10)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            if s is body_sock:  # the app's own body deadline answers 408
                assert b" 408 " in data.split(b"\r\n", 1)[0], data[:200]
            else:  # unfinished headers: the server answers 408 (uvicorn) or just closes (granian)
                assert not data or b" 408 " in data.split(b"\r\n", 1)[0], data[:200]
        assert time.monotonic() - started < 8
    finally:
        for s in socks:
            s.close()
    with server.admin() as admin:
        assert admin.get("/api/system").status_code == 200


def test_lockout_keys_on_the_peer_not_on_forwarded_for(server: AuthHangar) -> None:
    for i in range(3):
        r = httpx.get(server.base + "/api/system", headers={"X-API-Key": "mcp_bad", "X-Forwarded-For": f"9.9.9.{i}"})
        assert r.status_code == 401
    # A fresh X-Forwarded-For does not make a new client: the peer is locked out, even with a good key.
    r = httpx.get(server.base + "/api/system",
                  headers={"X-API-Key": server.admin_key, "X-Forwarded-For": "8.8.8.8"})
    assert r.status_code == 429, r.text
