"""Export (round trip into a fresh Hangar), backup rotation, diff and ``GET /api/config``, with
secrets that must never leave."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.ops.conftest import error_of, fixture_entry, new_mark, write_yaml
from tests.support import HangarProcess, fixture_provider

SECRET_FROM_ENV = "tok-from-env-8c1f"
SECRET_LITERAL = "literal-pass-77d2"
SECRET_BY_LIST = "conn-secret-3f1a"  # secret through ``secret_env``, not by its name
ENV = {"OPS_SECRET_TOKEN": SECRET_FROM_ENV, "DB_PASSWORD": SECRET_LITERAL, "CONN": SECRET_BY_LIST}
ADD_TOOL = {"name": "add", "description": "Add two numbers.",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}}}}


def initial(work: Path) -> dict[str, Any]:
    (work / "drop").mkdir(exist_ok=True)
    return {
        "config": {"backup_keep": 3, "backup_dir": str(work / "bk")},
        "runtime": {"max_restarts": 2},
        "providers": {
            "p1": fixture_entry(new_mark(), description="env secret", idle_ttl_s=5, tools=[ADD_TOOL],
                                env={"API_TOKEN": "${OPS_SECRET_TOKEN}", "LEVEL": "debug", "CONN": SECRET_BY_LIST},
                                secret_env=["CONN"]),
            "p2": {"mode": "remote", "endpoint": "http://127.0.0.1:9/mcp", "call_timeout_s": 2.5,
                   "env": {"DB_PASSWORD": SECRET_LITERAL}},
        },
        "groups": {"pool": {"strategy": "weighted_round_robin", "min_healthy": 1,
                            "members": [{"id": "p1", "weight": 2}, {"id": "p2"}]}},
        "discovery": {"sources": {"drop": {"type": "filesystem", "mode": "additive",
                                           "config": {"path": str(work / "drop")}}}},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("export"))
    cfg = write_yaml(work / "hangar.yaml", initial(work))
    proc = HangarProcess(work, config=cfg, env=ENV).start(timeout=60)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(server: HangarProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        p3 = fixture_provider("p3", new_mark(), description="api")
        assert client.post("/api/providers", json=p3).status_code == 201
        assert client.post("/api/groups", json={"group_id": "apig", "strategy": "priority"}).status_code == 201
        assert client.post("/api/groups/apig/members", json={"member_id": "p3", "priority": 0}).status_code == 201
        yield client


def no_secret(text: str) -> None:
    assert SECRET_FROM_ENV not in text and SECRET_LITERAL not in text and SECRET_BY_LIST not in text


def snapshot(api: httpx.Client) -> dict[str, Any]:
    """Providers, groups and sources as a fresh Hangar must reproduce them."""
    providers = {}
    for row in api.get("/api/providers").json()["providers"]:
        d = api.get(f"/api/providers/{row['provider_id']}").json()
        providers[d["provider_id"]] = (d["description"], d["config"], [t["name"] for t in d["tools"]])
    groups = {g["group_id"]: (g["strategy"], g["min_healthy"],
                              sorted((m["id"], m["weight"], m["priority"]) for m in g["members"]))
              for g in api.get("/api/groups").json()["groups"]}
    sources = {s["source_id"]: (s["type"], s["mode"], s["enabled"], s["config"])
               for s in api.get("/api/discovery/sources").json()["sources"]}
    return {"providers": providers, "groups": groups, "sources": sources}


def test_get_config_strips_secrets(api: httpx.Client, server: HangarProcess) -> None:
    r = api.get("/api/config")
    assert r.status_code == 200
    no_secret(r.text)
    body = r.json()
    assert body["config_path"] == str(server.config)
    cfg = body["config"]
    rows = {p["provider_id"]: p for p in cfg["providers"]}
    assert rows["p1"]["env"] == {"HANGAR_TEST_MARK": rows["p1"]["env"]["HANGAR_TEST_MARK"],
                                 "API_TOKEN": "***", "LEVEL": "debug", "CONN": "***"}
    assert rows["p2"]["env"] == {"DB_PASSWORD": "***"} and rows["p3"]["managed_by"] == "api"
    assert cfg["runtime"]["max_restarts"] == 2 and cfg["config"]["backup_keep"] == 3
    assert {g["group_id"] for g in cfg["groups"]} == {"pool", "apig"}
    no_secret(server.log_path.read_text())


def test_export_round_trips_into_a_fresh_hangar(api: httpx.Client, server: HangarProcess, tmp_path: Path) -> None:
    r = api.post("/api/config/export")
    assert r.status_code == 200
    text = r.json()["yaml"]
    no_secret(text)
    tree = yaml.safe_load(text)
    assert tree["providers"]["p1"]["env"]["API_TOKEN"] == "${OPS_SECRET_TOKEN}"  # the file's own reference
    assert tree["providers"]["p2"]["env"]["DB_PASSWORD"] == "${DB_PASSWORD}"
    assert tree["providers"]["p1"]["env"]["CONN"] == "${CONN}" and tree["providers"]["p1"]["secret_env"] == ["CONN"]
    assert set(tree["providers"]) == {"p1", "p2", "p3"} and set(tree["groups"]) == {"pool", "apig"}
    assert tree["runtime"] == {"max_restarts": 2}

    (tmp_path / "exported.yaml").write_text(text)
    fresh = HangarProcess(tmp_path, config=tmp_path / "exported.yaml", env=ENV).start(timeout=60)
    try:
        with fresh.client() as other:
            assert snapshot(other) == snapshot(api)
            assert other.post("/api/config/export").json()["yaml"] == text
            # Secret values arrived intact, though the file never contained them.
            assert other.post("/api/providers/p1/start").status_code == 200
            for name, want in (("API_TOKEN", SECRET_FROM_ENV), ("CONN", SECRET_BY_LIST)):
                got = other.post("/api/providers/p1/tools/getenv/invoke", json={"arguments": {"name": name}})
                assert got.json()["result"][0]["text"] == want
            diff = other.get("/api/config/diff").json()
            assert diff["has_changes"] is False and diff["diff"] == ""
    finally:
        fresh.stop()
    no_secret(fresh.log_path.read_text())


def test_backup_rotation(api: httpx.Client, server: HangarProcess) -> None:
    made = []
    for _ in range(5):
        r = api.post("/api/config/backup")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["created"] is True and body["source"] == "file" and body["path"] == body["backup_path"]
        assert Path(body["backup_path"]).read_text() == server.config.read_text()
        assert os.stat(body["backup_path"]).st_mode & 0o777 == 0o600
        made.append(body["backup_path"])
        time.sleep(0.002)
    kept = sorted(p.name for p in (server.workdir / "bk").iterdir())
    assert kept == sorted(Path(p).name for p in made[-3:])  # backup_keep: 3, the newest kept
    assert body["kept"] == made[-3:]


def test_diff_on_disk_against_in_memory(api: httpx.Client, server: HangarProcess, tmp_path: Path) -> None:
    r = api.get("/api/config/diff")
    assert r.status_code == 200
    body = r.json()
    no_secret(r.text)
    assert body["has_changes"] is True and body["has_diff"] is True
    lines = body["diff"].splitlines()
    assert lines[:2] == ["--- on-disk", "+++ in-memory"]
    assert "+  p3:" in lines and "+  apig:" in lines  # created through the API, not in the file
    assert not any(line.startswith("-") and "p1" in line for line in lines[2:])

    # Another file: a changed secret shows as changed, never as its value.
    changed = initial(server.workdir)
    changed["providers"]["p2"]["env"]["DB_PASSWORD"] = "other-value"
    # Files named over the API must be in the config file's directory (or an allowed one).
    write_yaml(server.workdir / "other.yaml", changed)
    d = api.get("/api/config/diff", params={"config_path": str(server.workdir / "other.yaml")}).json()
    assert "+      DB_PASSWORD: '*** (changed)'" in d["diff"].splitlines() and "other-value" not in str(d)
    missing = api.get("/api/config/diff", params={"config_path": str(server.workdir / "none.yaml")}).json()
    assert missing["on_disk"] == {} and "no such file" in missing["on_disk_error"] and missing["has_changes"]
    error_of(api.get("/api/config/diff", params={"config_path": ""}), 422)


def test_peer_config_file_is_accepted(api: httpx.Client, server: HangarProcess, tmp_path: Path) -> None:
    """mcp-hangar's own ``config.yaml`` shape: groups as ``mode: group`` providers, ``inputSchema``."""
    peer = server.workdir / "config.yaml"
    entry = fixture_entry(new_mark(), description="Tiny math/echo provider", idle_ttl_s=300,
                          health_check_interval_s=60, tools=[ADD_TOOL])
    write_yaml(peer, {"providers": {"math": entry, "peerpool": {
        "mode": "group", "strategy": "round_robin", "min_healthy": 1, "description": "Example group",
        "members": [{"id": "math", "weight": 1, "priority": 1}]}}})
    r = api.post("/api/config/reload", json={"config_path": str(peer)})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["providers_added"] == ["math"] and res["added"]["groups"] == ["peerpool"]
    tools = api.get("/api/providers/math/tools").json()["tools"]
    assert tools[0]["inputSchema"] == ADD_TOOL["inputSchema"]
    assert api.get("/api/groups/peerpool").json()["members"][0]["id"] == "math"

    entry["max_concurrency"] = 4
    write_yaml(peer, {"providers": {"math": entry}})
    err = error_of(api.post("/api/config/reload", json={"config_path": str(peer)}), 422)
    assert "providers.math.max_concurrency: per-provider concurrency limits are not supported" in err["message"]
