"""A minimal HTTP/1.1 keep-alive load generator.

httpx spends 2-4 ms of client CPU per request on this machine, which would measure the client
rather than the server. This speaks just enough HTTP/1.1 over raw asyncio protocols (on uvloop
when installed): fixed request bytes, Content-Length bodies, no chunked encoding. The request
loop is bounded by both a duration and a request count.

    python bench/loadgen.py GET http://127.0.0.1:8000/api/providers -c 32 -d 10
    python bench/loadgen.py POST http://127.0.0.1:8000/api/providers -c 32 -d 10 \\
        --body '{"provider_id": "bench-{n}", "mode": "remote", "endpoint": "http://127.0.0.1:9/"}'

``{n}`` in the body is replaced by a unique counter per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests, "errors": self.errors, "rps": round(self.rps, 1),
            "p50_ms": round(self.pct(0.50), 3), "p99_ms": round(self.pct(0.99), 3),
            "statuses": self.statuses, "seconds": round(self.elapsed, 2),
        }


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def _try_complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        total = end + 4 + length
        if len(self.buf) < total:
            return
        body = bytes(self.buf[end + 4:total])
        del self.buf[:total]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        self._try_complete()
        return await self.waiter


def build_request(method: str, host: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def run(
    method: str, url: str, *, concurrency: int = 32, duration: float = 10.0, max_requests: int = 10_000_000,
    body: str | None = None, headers: dict[str, str] | None = None, warmup: float = 1.0,
) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    hdrs = headers or {}
    loop = asyncio.get_running_loop()
    result = Result()
    counter = iter(range(10**12))
    static = build_request(method, f"{host}:{port}", path, body.encode() if body and "{n}" not in body else None, hdrs)
    templated = body is not None and "{n}" in body
    if body is not None and not templated:
        static = build_request(method, f"{host}:{port}", path, body.encode(), hdrs)

    async def worker(measure_from: float, stop_at: float) -> None:
        _, conn = await loop.create_connection(_Conn, host, port)
        try:
            while True:
                now = time.perf_counter()
                if now >= stop_at or result.requests >= max_requests:
                    return
                raw = static
                if templated:
                    assert body is not None
                    raw = build_request(method, f"{host}:{port}", path,
                                        body.replace("{n}", str(next(counter))).encode(), hdrs)
                started = time.perf_counter()
                try:
                    status, _ = await conn.request(raw)
                except ConnectionError:
                    result.errors += 1
                    return
                done = time.perf_counter()
                if started >= measure_from:
                    result.requests += 1
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    result.latencies.append(done - started)
                    if status >= 400:
                        result.errors += 1
        finally:
            if conn.transport is not None:
                conn.transport.close()

    t0 = time.perf_counter()
    measure_from, stop_at = t0 + warmup, t0 + warmup + duration
    await asyncio.gather(*(worker(measure_from, stop_at) for _ in range(concurrency)))
    result.elapsed = min(time.perf_counter(), stop_at) - measure_from
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("method")
    p.add_argument("url")
    p.add_argument("-c", "--concurrency", type=int, default=32)
    p.add_argument("-d", "--duration", type=float, default=10.0)
    p.add_argument("-n", "--max-requests", type=int, default=10_000_000)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--body")
    p.add_argument("-H", "--header", action="append", default=[])
    args = p.parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    res = asyncio.run(run(args.method.upper(), args.url, concurrency=args.concurrency, duration=args.duration,
                          max_requests=args.max_requests, body=args.body,
                          headers={k.strip(): v.strip() for k, v in headers.items()}, warmup=args.warmup))
    print(json.dumps(res.as_dict()))


if __name__ == "__main__":
    main()
