"""Tool-call throughput through Hangar's REST invoke route: one provider, then eight at once.

    .venv/bin/python bench/bench_invoke.py [--duration 8] [--sync FULL]

A fresh ``hangar serve`` with the SDK-built stdio fixture server as every provider; total
concurrency 16 (spread evenly over the providers), bench/loadgen.py as the client. Every call
records its durable invocation events before it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from bench_api import free_port, post, wait_ready  # noqa: E402
from loadgen import run  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "stdio_server.py"
BODY = '{"arguments": {"a": 2, "b": 3}}'


async def fan_out(base: str, providers: list[str], concurrency: int, duration: float) -> dict[str, object]:
    per = max(1, concurrency // len(providers))
    results = await asyncio.gather(*(
        run("POST", f"{base}/api/providers/{p}/tools/add/invoke", concurrency=per, duration=duration, body=BODY)
        for p in providers
    ))
    latencies = sorted(x for r in results for x in r.latencies)
    total = sum(r.requests for r in results)
    return {
        "providers": len(providers), "concurrency": per * len(providers),
        "calls_per_s": round(sum(r.rps for r in results), 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3) if latencies else None,
        "errors": sum(r.errors for r in results), "calls": total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--sync", choices=["FULL", "NORMAL"], default="FULL")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="hangar-invoke-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = work / "hangar.yaml"
    cfg.write_text(f"event_store:\n  sqlite_synchronous: {args.sync}\n")
    db = f"sqlite+aiosqlite:///{work / 'hangar.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hangar.cli", "serve", "--config", str(cfg), "--port", str(port), "--db", db],
        cwd=work, stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"),
    )
    out: list[dict[str, object]] = []
    try:
        wait_ready(base + "/api/system")
        names = [f"fx{i}" for i in range(8)]
        for name in names:
            post(base + "/api/providers", {"provider_id": name, "mode": "subprocess",
                                           "command": [sys.executable, str(FIXTURE)],
                                           "env": {"FIXTURE_ASYNC_STDIO": "1"}})
            post(base + f"/api/providers/{name}/start", {})
        out.append(asyncio.run(fan_out(base, names[:1], 16, args.duration)))
        out.append(asyncio.run(fan_out(base, names, 16, args.duration)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"sync": args.sync, "results": out}, indent=2))


if __name__ == "__main__":
    main()
