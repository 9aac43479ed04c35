"""CPU time per request of a few read routes, in process (litestar's AsyncTestClient, no
sockets): ``time.process_time`` over N requests, best of a few rounds. CPU time barely moves
with other load on the machine, unlike request rates; compare two checkouts with PYTHONPATH:

    .venv/bin/python bench/cpu_per_request.py
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/cpu_per_request.py /api/providers
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

from litestar.testing import AsyncTestClient

from hangar.asgi import create_app
from hangar.config.loader import parse_config

# A query string sends ``/api/providers`` through the controller (without one, with auth off,
# ``hangar/api/fast_reads.py`` answers it before routing).
PATHS = ["/api/providers", "/api/providers?state=cold", "/api/providers/p-1", "/api/system", "/api/groups"]


async def measure(paths: list[str], n: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp())
    config = parse_config("providers: {}\nlogging: {level: warning}\nmcp: {discover_on_register: false}\n")
    app = create_app(config=config, db_url=f"sqlite+aiosqlite:///{work / 'hangar.db'}")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with AsyncTestClient(app) as client:
        for i in range(20):
            body = {"provider_id": f"p-{i}", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}
            assert (await client.post("/api/providers", json=body)).status_code == 201
        for path in paths:
            for _ in range(200):  # warm up
                assert (await client.get(path)).status_code == 200, path
            runs = []
            for _ in range(rounds):
                start = time.process_time()
                for _ in range(n):
                    await client.get(path)
                runs.append((time.process_time() - start) / n * 1e6)
            print(f"{path:24} CPU µs/request: best {min(runs):7.1f}   all {[round(r, 1) for r in runs]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=PATHS)
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.paths, args.n, args.rounds))


if __name__ == "__main__":
    main()
