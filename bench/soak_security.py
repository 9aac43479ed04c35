"""Soak under hostile clients: schemathesis for a while, 1,000 abandoned WebSockets and 200
slow-loris connections against one Hangar (auth on), then ``GET /api/system`` latency and RSS.

Pass: p99 of ``GET /api/system`` < 50 ms and RSS within 20 % of its value before the soak.
Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.

    .venv/bin/python bench/soak_security.py [--fuzz-seconds 120] [--websockets 1000] [--slow 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.auth.conftest import AuthHangar  # noqa: E402

CONFIG = """
auth:
  enabled: true
  rate_limit: {requests_per_second: 100000, burst: 100000}
  lockout: {enabled: false}
server:
  header_timeout_s: 10
"""
EXCLUDED = (r"/(start|stop|restart|invoke|deploy|scan|import|upgrade)$|^/api/discovery/sources|^/schema|^/mcp"
            r"|^/api/v1beta|^/api/events/stream")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def latencies(server: AuthHangar, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=server.base, headers={"X-API-Key": server.admin_key}, timeout=10) as c:
        for _ in range(n):
            t = time.perf_counter()
            assert c.get("/api/system").status_code == 200
            out.append((time.perf_counter() - t) * 1000)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def abandoned_websockets(server: AuthHangar, count: int) -> int:
    """Complete the handshake, then drop the TCP connection without a close frame."""
    request = (f"GET /api/ws/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               f"Sec-WebSocket-Version: 13\r\nX-API-Key: {server.admin_key}\r\n\r\n").encode()
    upgraded = 0
    for start in range(0, count, 100):
        conns = []
        for _ in range(min(100, count - start)):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            conns.append((reader, writer))
        for reader, writer in conns:
            line = await asyncio.wait_for(reader.readline(), 10)
            upgraded += b" 101 " in line
            writer.transport.abort()  # no close frame, no FIN handshake: abandoned
    return upgraded


def slow_loris(server: AuthHangar, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /api/system HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    return socks


def closed_count(socks: list[socket.socket]) -> int:
    closed = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            data = s.recv(4096)
            closed += data == b"" or b" 408 " in data
        except (TimeoutError, BlockingIOError):
            pass
        except OSError:
            closed += 1
    return closed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzz-seconds", type=int, default=120)
    ap.add_argument("--websockets", type=int, default=1000)
    ap.add_argument("--slow", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hangar-soak-"))
    server = AuthHangar(work, CONFIG, env={"PATH": "/nonexistent"}).start()
    assert server.proc is not None
    try:
        latencies(server, 200)  # warm up
        base_rss = rss_kib(server.proc.pid)
        base = latencies(server, 500)
        fuzz = subprocess.Popen(
            [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.base}/schema/openapi.json",
             "-H", f"X-API-Key: {server.admin_key}", "--experimental=openapi-3.1", "--checks", "all",
             "--hypothesis-max-examples", "100000", "--hypothesis-seed", "1", "--exclude-path-regex", EXCLUDED,
             "--no-color"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        started = time.monotonic()
        upgraded = asyncio.run(abandoned_websockets(server, args.websockets))
        slow = slow_loris(server, args.slow)
        remaining = args.fuzz_seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        fuzz.terminate()
        try:
            out, _ = fuzz.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            fuzz.kill()
            out, _ = fuzz.communicate()
        slow_closed = closed_count(slow)
        for s in slow:
            s.close()
        time.sleep(2)
        after = latencies(server, 500)
        after_rss = rss_kib(server.proc.pid)
        result = {
            "fuzz_seconds": args.fuzz_seconds, "websockets_abandoned": upgraded, "slow_loris": args.slow,
            "slow_loris_closed_by_server": slow_closed,
            "system_p99_ms_before": round(p99(base), 2), "system_p99_ms_after": round(p99(after), 2),
            "rss_kib_before": base_rss, "rss_kib_after": after_rss,
            "rss_change_pct": round(100 * (after_rss - base_rss) / base_rss, 1),
            "server_errors_in_log": server.log_path.read_text().count("unhandled_error"),
            "fuzz_tail": out.strip().splitlines()[-1:] if out else [],
        }
        result["pass"] = result["system_p99_ms_after"] < 50 and abs(result["rss_change_pct"]) <= 20
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
