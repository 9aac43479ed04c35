"""Where a REST path spends Hangar's CPU: py-spy samples the server under bench/loadgen.py load.

    .venv/bin/python bench/profile_api.py --path create     # durable POST /api/providers
    .venv/bin/python bench/profile_api.py --path list       # GET /api/providers, 20 providers
    .venv/bin/python bench/profile_api.py --path system     # GET /api/system

Prints a text flame summary: the functions holding the largest share of the server's samples,
inclusive (anywhere on the stack) and self (on top). Shares are meaningful even when the machine
is shared; absolute request rates are not. Needs ``py-spy`` in the venv and permission to attach.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import free_port, post, start_hangar, stop, wait_ready
from loadgen import run

CREATE = '{"provider_id": "p-{n}", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}'
PATHS = {
    "create": ("POST", "/api/providers", CREATE),
    "list": ("GET", "/api/providers", None),
    "system": ("GET", "/api/system", None),
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process: unlike request rates, barely moved by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(raw: Path, top: int) -> str:
    """Inclusive and self shares per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    lines = [f"{total} samples", "", "inclusive  self   function"]
    for name, n in inclusive.most_common(top):
        lines.append(f"{100 * n / total:7.1f}% {100 * own[name] / total:6.1f}%  {name}")
    lines += ["", "self-time top:"]
    for name, n in own.most_common(top // 2):
        lines.append(f"{100 * n / total:7.1f}%  {name}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    for anchor in ("hangar", "litestar", "uvicorn", "sqlalchemy", "msgspec", "prometheus_client", "granian"):
        if anchor in parts:
            path = "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
            break
    else:
        path = Path(path).name
    return f"{name} ({path})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", choices=sorted(PATHS), default="create")
    ap.add_argument("--server", default="granian", choices=["granian", "uvicorn", "granian-worker"])
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    ap.add_argument("--no-spy", action="store_true", help="only the rate and the CPU per request")
    args = ap.parse_args()
    method, path, body = PATHS[args.path]
    work = Path(tempfile.mkdtemp(prefix="hangar-profile-"))
    raw = args.raw or work / "stacks.txt"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_hangar(args.server, port, work)
    try:
        wait_ready(base + "/api/system")
        for i in range(20):
            post(base + "/api/providers", {"provider_id": f"seed-{i}", "mode": "remote",
                                           "endpoint": "http://127.0.0.1:9/mcp"})
        spy = None if args.no_spy else subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid), "--format", "raw",
             "-o", str(raw), "--rate", "250", "--nonblocking", "-d", str(int(args.duration) + 1)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu = cpu_seconds(proc.pid)
        result = asyncio.run(run(method, base + path, concurrency=32, duration=args.duration, body=body))
        cpu = cpu_seconds(proc.pid) - cpu
        if spy is not None:
            spy.wait(60)
    finally:
        stop(proc)
    print(f"{method} {path}: {result.as_dict()}")
    print(f"server CPU per request: {1e6 * cpu / max(1, result.requests):.0f} us"
          f" ({'with' if spy else 'without'} py-spy attached)")
    if spy is not None:
        print(summarize(raw, args.top))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
