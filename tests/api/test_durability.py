"""A 2xx means durable: SIGKILL mid-stream loses nothing that was acknowledged."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support import HangarProcess


async def _fire_creates(base: str, n: int, concurrency: int, acked: list[str], kill_after: int,
                        kill: asyncio.Event) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                pid = f"dur-{i:04d}"
                try:
                    r = await client.post("/api/providers", json={
                        "provider_id": pid, "mode": "subprocess", "command": ["python", "-V"],
                        "description": f"provider {i}", "env": {"N": str(i)},
                    })
                except httpx.HTTPError:
                    continue
                if r.status_code == 201:
                    acked.append(pid)
                    if len(acked) >= kill_after:
                        kill.set()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def test_sigkill_mid_stream_keeps_every_acknowledged_create(tmp_path: Path) -> None:
    server = HangarProcess(tmp_path).start()
    acked: list[str] = []
    kill = asyncio.Event()

    async def scenario() -> None:
        fire = asyncio.create_task(_fire_creates(server.base, 240, 32, acked, 80, kill))
        await kill.wait()
        server.kill()  # SIGKILL while requests are still in flight
        await fire

    asyncio.run(scenario())
    assert 80 <= len(acked) < 240, len(acked)

    restarted = HangarProcess(tmp_path, config=server.config, db_url=server.db_url).start()
    try:
        with restarted.client() as api:
            listed = {p["provider"]: p for p in api.get("/api/providers").json()["providers"]}
            missing = set(acked) - set(listed)
            assert not missing, f"acknowledged but lost: {sorted(missing)[:5]}"
            # Nothing half-written: every provider that exists is whole.
            for name in listed:
                d = api.get(f"/api/providers/{name}").json()
                i = int(name.split("-")[1])
                assert d["description"] == f"provider {i}" and d["config"]["env"] == {"N": str(i)}
    finally:
        restarted.stop()


def test_read_your_writes_across_connections(hangar: HangarProcess) -> None:
    with hangar.client() as writer, hangar.client() as reader:
        for i in range(30):
            pid = f"ryw-{i}"
            assert writer.post("/api/providers", json={
                "provider_id": pid, "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}).status_code == 201
            assert reader.get(f"/api/providers/{pid}").status_code == 200
            assert writer.put(f"/api/providers/{pid}", json={"description": "v2"}).status_code == 200
            assert reader.get(f"/api/providers/{pid}").json()["description"] == "v2"
            assert writer.delete(f"/api/providers/{pid}").status_code == 200
            assert reader.get(f"/api/providers/{pid}").status_code == 404


def test_state_survives_restart_and_config_apply_is_idempotent(tmp_path: Path) -> None:
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text("providers:\n  math:\n    mode: subprocess\n"
                   "    command: [python, -m, hangar.examples.math_server]\n")
    first = HangarProcess(tmp_path, config=cfg).start()
    with first.client() as api:
        assert api.get("/api/providers/math").status_code == 200
        version = api.get("/api/providers/math").headers["etag"]
        api.post("/api/providers", json={"provider_id": "extra", "mode": "docker", "image": "x:1"})
    first.stop()
    second = HangarProcess(tmp_path, config=cfg, db_url=first.db_url).start()
    try:
        with second.client() as api:
            # Unchanged definition: the restart appended nothing to its stream.
            assert api.get("/api/providers/math").headers["etag"] == version
            assert api.get("/api/providers/extra").status_code == 200
    finally:
        second.stop()
