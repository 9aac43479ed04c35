"""What a new operator meets first: the config file's listen address, one set of field names for
discovery sources, and a visible start-up replay (the probes and newline-terminated JSON are
checked against ``make serve`` in ``tests/test_readme_tour.py``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from hangar.app.ports import NewEvent
from hangar.app.projector import Projector
from hangar.cli_client.serve import listen_address
from hangar.config.schema import DiscoverySourceConfig, HangarConfig
from hangar.store import create_event_store, migrate


def test_the_config_file_takes_both_discovery_field_names() -> None:
    for key in ("source_type", "type"):
        cfg = msgspec.convert({"discovery": {"sources": {"a": {key: "entrypoint"}}}}, HangarConfig)
        assert cfg.discovery.sources["a"].source_type == "entrypoint"
    with pytest.raises(msgspec.ValidationError, match="source_type"):
        msgspec.convert({}, DiscoverySourceConfig)
    with pytest.raises(msgspec.ValidationError, match="disagree"):
        msgspec.convert({"source_type": "docker", "type": "entrypoint"}, DiscoverySourceConfig)


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
