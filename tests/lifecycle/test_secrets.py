"""Secret env values never appear in clear outside the provider process itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import websockets

from tests.support import HangarProcess, fixture_provider, pids_with_mark

TOKEN = "tok-123-very-secret"
PASSWORD = "pw-456-hidden"


def test_secrets_are_sealed_everywhere_but_the_process(server: HangarProcess, api: httpx.Client) -> None:
    pid, mark = f"sec-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    body = fixture_provider(pid, mark, env={"API_TOKEN": TOKEN, "DB_URL": f"postgres://u:{PASSWORD}@h/db",
                                             "PLAIN": "visible"}, secret_env=["DB_URL"])

    async def create_and_watch() -> list[str]:
        url = server.base.replace("http://", "ws://") + "/api/ws/events"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"provider_ids": [pid]}))
            await ws.recv()
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
                assert (await c.post("/api/providers", json=body)).status_code == 201
                assert (await c.post(f"/api/providers/{pid}/start")).status_code == 200
            frames = []
            for _ in range(4):
                frames.append(str(await asyncio.wait_for(ws.recv(), 10)))
            return frames

    frames = asyncio.run(create_and_watch())
    assert any("ProviderRegistered" in f for f in frames)
    for text in frames:
        assert TOKEN not in text and PASSWORD not in text

    detail = api.get(f"/api/providers/{pid}")
    env = detail.json()["config"]["env"]
    assert env["API_TOKEN"] == "***" and env["DB_URL"] == "***" and env["PLAIN"] == "visible"
    etag = detail.headers["etag"]

    # The process itself got the real values.
    (proc,) = pids_with_mark(mark)
    environ = Path(f"/proc/{proc}/environ").read_bytes().split(b"\0")
    assert f"API_TOKEN={TOKEN}".encode() in environ
    assert f"DB_URL=postgres://u:{PASSWORD}@h/db".encode() in environ

    # Re-sending the same values changes nothing (the sealed values are reused).
    r = api.put(f"/api/providers/{pid}", json={"env": body["env"]})
    assert r.status_code == 200 and r.headers["etag"] == etag

    for path in server.workdir.iterdir():
        if path.name.startswith("hangar.db") or path.suffix == ".log":
            data = path.read_bytes()
            assert TOKEN.encode() not in data and PASSWORD.encode() not in data, path.name
    api.delete(f"/api/providers/{pid}")
