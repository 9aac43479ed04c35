"""REST throughput of Hangar (and optionally the peer mcp-hangar) on this machine.

    .venv/bin/python bench/bench_api.py                      # granian embedded, the default server
    .venv/bin/python bench/bench_api.py --server uvicorn     # the same app on uvicorn (in-process too)
    .venv/bin/python bench/bench_api.py --peer /path/to/peer-venv   # the peer on the same load

Measures GET /api/providers with 20 providers and durable POST /api/providers creates, both at
concurrency 32, with bench/loadgen.py as the client (one process, raw HTTP/1.1 keep-alive).
Each server gets a fresh database in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from loadgen import run  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def post(url: str, body: dict[str, object]) -> int:
    req = Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urlopen(req, timeout=10) as r:
        return int(r.status)


def start_hangar(server: str, port: int, work: Path) -> subprocess.Popen[bytes]:
    db = f"sqlite+aiosqlite:///{work / 'hangar.db'}"
    cfg = work / "hangar.yaml"
    cfg.write_text("providers: {}\n")
    env = {**os.environ, "HANGAR_CONFIG": str(cfg), "HANGAR_DB_URL": db}
    subprocess.run([sys.executable, "-m", "hangar.cli", "migrate", "--db", db], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if server == "granian-worker":  # granian's own CLI: the app runs in a worker process it spawns
        cmd = [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--workers", "1",
               "--log-level", "warning", "hangar.asgi:make_app"]
    else:  # in-process: granian's embedded server (the default) or uvicorn
        cmd = [sys.executable, "-m", "hangar.cli", "serve", "--config", str(cfg), "--port", str(port), "--db", db,
               "--server", server]
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"))


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it takes longer than ``timeout``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_peer(venv: Path, port: int, work: Path) -> subprocess.Popen[bytes]:
    cfg = work / "config.yaml"
    cfg.write_text("providers: {}\n")
    env = {**os.environ, "MCP_CONFIG": str(cfg)}
    cmd = [str(venv / "bin" / "mcp-hangar"), "--config", str(cfg), "serve", "--http", "--host", "127.0.0.1",
           "--port", str(port)]
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"))


def measure(base: str, collection: str, duration: float, creates: bool) -> dict[str, object]:
    for i in range(20):
        post(base + collection, {"provider_id": f"seed-{i}", "mode": "remote",
                                 "endpoint": "http://127.0.0.1:9/mcp", "description": f"provider {i}"})
    out: dict[str, object] = {}
    out["get_providers"] = asyncio.run(run("GET", base + collection, concurrency=32, duration=duration)).as_dict()
    if creates:
        body = '{"provider_id": "b-{n}", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}'
        out["post_providers"] = asyncio.run(
            run("POST", base + collection, concurrency=32, duration=duration, body=body)).as_dict()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", choices=["granian", "uvicorn", "granian-worker"], default="granian")
    ap.add_argument("--peer", type=Path, help="a venv with mcp-hangar 0.12.0 installed: measure it instead")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--no-creates", action="store_true")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="hangar-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if args.peer:
        proc = start_peer(args.peer, port, work)
        collection, label = "/api/providers/", "mcp-hangar 0.12.0"
    else:
        proc = start_hangar(args.server, port, work)
        collection, label = "/api/providers", f"hangar ({args.server})"
    try:
        wait_ready(base + ("/api/system/" if args.peer else "/api/system"))
        result = measure(base, collection, args.duration, creates=not args.no_creates)
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"target": label, **result}, indent=2))


if __name__ == "__main__":
    main()
