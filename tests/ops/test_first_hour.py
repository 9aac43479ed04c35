"""What a new operator meets first: probes, newline-terminated JSON, one set of field names for
discovery sources, the config file's listen address, and a visible start-up replay."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
from structlog.testing import capture_logs

from hangar.app.ports import NewEvent
from hangar.app.projector import Projector
from hangar.cli_client.serve import listen_address
from hangar.config.schema import DiscoverySourceConfig, HangarConfig
from hangar.store import create_event_store, migrate
from tests.discovery.conftest import assert_envelope


def test_probes_answer_and_json_ends_with_a_newline(api: httpx.Client) -> None:
    live = api.get("/health/live")
    ready = api.get("/health/ready")
    assert live.status_code == 200 and live.json() == {"status": "ok", "checks": {}}
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": True, "replayed": True}
    for r in (live, ready, api.get("/api/providers"), api.get("/api/providers/ghost"),
              api.post("/api/providers", content=b"{")):
        assert r.text.endswith("}\n") and r.text.count("\n") == 1, r.text
        assert int(r.headers["content-length"]) == len(r.content)


def test_discovery_sources_take_the_same_names_over_the_api_and_in_the_file(api: httpx.Client,
                                                                              tmp_path: Path) -> None:
    for i, body in enumerate(({"source_type": "filesystem"}, {"type": "filesystem"})):
        r = api.post("/api/discovery/sources", json={**body, "source_id": f"fs{i}", "mode": "additive",
                                                     "enabled": False, "config": {"path": str(tmp_path)}})
        assert r.status_code == 201, r.text
        assert api.get(f"/api/discovery/sources/fs{i}").json()["source_type"] == "filesystem"
    assert "disagree" in assert_envelope(api.post("/api/discovery/sources", json={
        "source_type": "filesystem", "type": "docker", "mode": "additive"}), 422)["message"]
    assert "source_type" in assert_envelope(api.post("/api/discovery/sources", json={"mode": "additive"}),
                                            422)["message"]

    for key in ("source_type", "type"):
        cfg = msgspec.convert({"discovery": {"sources": {"a": {key: "entrypoint"}}}}, HangarConfig)
        assert cfg.discovery.sources["a"].source_type == "entrypoint"
    with pytest.raises(msgspec.ValidationError, match="source_type"):
        msgspec.convert({}, DiscoverySourceConfig)


def test_flags_override_the_config_file_only_when_given() -> None:
    cfg = msgspec.convert({"server": {"host": "127.0.0.2", "port": 9123}}, HangarConfig)
    assert listen_address(None, None, cfg) == ("127.0.0.2", 9123)
    assert listen_address("127.0.0.1", 9000, cfg) == ("127.0.0.1", 9000)
    assert listen_address(None, None, HangarConfig()) == ("127.0.0.1", 8000)


async def test_start_up_replay_reports_its_rate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'replay.db'}"
    await migrate(url)
    store = create_event_store(url)
    await store.start()
    try:
        for n in range(20):
            await store.append(f"s{n}", None, [NewEvent(uuid.uuid4().hex, "T", b"{}") for _ in range(10)])
        projector = Projector(store, [])
        with capture_logs() as logs:
            await projector.start()
        await projector.stop()
    finally:
        await store.close()
    assert projector.replayed and projector.position == 200
    done = [e for e in logs if e["event"] == "event_log_replayed"]
    assert len(done) == 1 and done[0]["events"] == 200 and done[0]["events_per_s"] > 0
