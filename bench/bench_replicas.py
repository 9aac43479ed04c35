"""Several Hangar replicas on one PostgreSQL: commands/s, reads/s and propagation delay.

    HANGAR_TEST_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/bench_replicas.py --replicas 1 2 3

For each replica count a fresh schema is created (and dropped afterwards) and that many
``hangar serve`` processes share it. The load is spread evenly over the replicas with
bench/loadgen.py (raw HTTP/1.1 keep-alive, concurrency 32 in total):

* commands/s: durable ``POST /api/providers`` creates;
* reads/s: ``GET /api/providers`` (20 providers);
* propagation: 200 creates sent one at a time to the first replica, each timed from its 2xx to
  its ``ProviderRegistered`` frame on a WebSocket of the last replica (median, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from bench_api import free_port, wait_ready  # noqa: E402
from loadgen import run  # noqa: E402

CLUSTER = "cluster: {heartbeat_s: 1.0, instance_ttl_s: 5.0, leader_ttl_s: 6.0, provider_lease_ttl_s: 6.0}\n"


async def pg(url: str, statement: str) -> None:
    import sqlalchemy as sa

    from hangar.store.engine import create_engine

    engine, _ = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def post(url: str, body: dict[str, object]) -> int:
    req = Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urlopen(req, timeout=30) as r:
        return int(r.status)


def start(n: int, url: str, work: Path) -> list[tuple[subprocess.Popen[bytes], str]]:
    cfg = work / "hangar.yaml"
    cfg.write_text("providers: {}\n" + CLUSTER)
    token = secrets.token_urlsafe(24)
    subprocess.run([sys.executable, "-m", "hangar.cli", "migrate", "--db", url], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = []
    for _ in range(n):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HANGAR_CLUSTER_TOKEN": token, "HANGAR_ADVERTISE_URL": base}
        env.pop("HANGAR_DB_URL", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "hangar.cli", "serve", "--config", str(cfg), "--port", str(port), "--db", url],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=(work / f"server-{port}.log").open("wb"))
        procs.append((proc, base))
    for _, base in procs:
        wait_ready(base + "/health/ready", timeout=120)
    return procs


async def spread(method: str, bases: list[str], path: str, duration: float, body: str | None = None) -> float:
    share = max(1, 32 // len(bases))
    results = await asyncio.gather(*(
        run(method, base + path, concurrency=share, duration=duration,
            body=body.replace("{r}", str(i)) if body else None)
        for i, base in enumerate(bases)))
    return sum(r.rps for r in results)


def propagation(bases: list[str], count: int = 200) -> tuple[float, float]:
    from websockets.sync.client import connect

    delays = []
    with connect(bases[-1].replace("http", "ws") + "/api/ws/events", open_timeout=10) as ws:
        ws.send(json.dumps({"event_types": ["ProviderRegistered"]}))
        time.sleep(0.3)
        for _ in range(count):
            pid = f"w-{uuid.uuid4().hex[:10]}"
            post(bases[0] + "/api/providers", {"provider_id": pid, "mode": "remote",
                                               "endpoint": "http://127.0.0.1:9/mcp"})
            answered = time.perf_counter()
            while json.loads(ws.recv(timeout=10)).get("provider_id") != pid:
                pass
            delays.append(max(0.0, time.perf_counter() - answered) * 1000)
    delays.sort()
    return delays[len(delays) // 2], delays[int(len(delays) * 0.99) - 1]


def measure(n: int, pg_url: str, duration: float) -> dict[str, object]:
    schema = f"hangar_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg(pg_url, f"CREATE SCHEMA {schema}"))
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    work = Path(tempfile.mkdtemp(prefix="hangar-bench-replicas-"))
    procs = start(n, url, work)
    bases = [b for _, b in procs]
    try:
        for i in range(20):
            post(bases[0] + "/api/providers", {"provider_id": f"seed-{i}", "mode": "remote",
                                               "endpoint": "http://127.0.0.1:9/mcp"})
        reads = asyncio.run(spread("GET", bases, "/api/providers", duration))
        body = '{"provider_id": "b{r}-{n}", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}'
        commands = asyncio.run(spread("POST", bases, "/api/providers", duration, body))
        median, p99 = propagation(bases)
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
        asyncio.run(pg(pg_url, f"DROP SCHEMA {schema} CASCADE"))
    return {"replicas": n, "commands_per_s": round(commands), "reads_per_s": round(reads),
            "propagation_median_ms": round(median, 1), "propagation_p99_ms": round(p99, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--duration", type=float, default=8.0)
    args = ap.parse_args()
    pg_url = os.environ.get("HANGAR_TEST_PG_URL") or os.environ.get("HANGAR_BENCH_PG_URL")
    if not pg_url:
        sys.exit("set HANGAR_TEST_PG_URL to a PostgreSQL database (a schema is created per run)")
    for n in args.replicas:
        print(json.dumps(measure(n, pg_url, args.duration)), flush=True)


if __name__ == "__main__":
    main()
