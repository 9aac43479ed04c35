"""Reloading the config file of a running Hangar: the matrix of providers and groups added,
removed, changed and untouched, through REST, the CLI, SIGHUP and file watching."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ops.conftest import error_of, fixture_entry, group_ids, new_mark, provider_ids, write_yaml
from tests.support import HangarProcess, fixture_provider, pids_with_mark, wait_until

MARKS = {name: new_mark() for name in ("a", "b", "c", "d")}


def v1() -> dict[str, Any]:
    return {
        "providers": {
            "a": fixture_entry(MARKS["a"], description="stays", env={"API_KEY": "a-key"}),
            "b": fixture_entry(MARKS["b"], description="will be removed"),
            "c": fixture_entry(MARKS["c"], description="will change"),
        },
        "groups": {
            "g1": {"strategy": "round_robin", "members": [{"id": "a"}, {"id": "c"}]},
            "g2": {"members": [{"id": "b"}]},
            "g3": {"strategy": "priority", "members": [{"id": "a"}]},
        },
    }


def v2() -> dict[str, Any]:
    return {
        "providers": {
            "a": fixture_entry(MARKS["a"], description="stays", env={"API_KEY": "a-key"}),
            "c": fixture_entry(MARKS["c"], description="changed", env={"EXTRA": "1"}),
            "d": fixture_entry(MARKS["d"], description="added"),
        },
        "groups": {
            "g1": {"strategy": "weighted_round_robin", "members": [{"id": "a", "weight": 3}, {"id": "c"}]},
            "g3": {"strategy": "priority", "members": [{"id": "a"}]},
            "g4": {"members": [{"id": "d"}]},
        },
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("reload"))
    cfg = write_yaml(work / "hangar.yaml", v1())
    proc = HangarProcess(work, config=cfg).start(timeout=60)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(server: HangarProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def test_reload_matrix_and_api_created_resources_survive(api: httpx.Client, server: HangarProcess) -> None:
    assert provider_ids(api) >= {"a", "b", "c"} and group_ids(api) >= {"g1", "g2", "g3"}
    # Created through the API: a reload must never touch these.
    assert api.post("/api/providers", json=fixture_provider("api1", new_mark())).status_code == 201
    assert api.post("/api/groups", json={"group_id": "apig"}).status_code == 201
    assert api.post("/api/providers/c/start").status_code == 200
    (old_c,) = pids_with_mark(MARKS["c"])
    before_a = api.get("/api/providers/a").headers["etag"]

    write_yaml(server.config, v2())
    r = api.post("/api/config/reload", json={"graceful": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "reloaded"
    res = body["result"]
    assert res["success"] is True and res["errors"] == []
    assert (res["providers_added"], res["providers_removed"]) == (["d"], ["b"])
    assert (res["providers_updated"], res["providers_unchanged"]) == (["c"], ["a"])
    assert res["added"]["groups"] == ["g4"] and res["removed"]["groups"] == ["g2"]
    assert res["changed"]["groups"] == ["g1"] and res["unchanged"]["groups"] == ["g3"]

    assert provider_ids(api) == {"a", "c", "d", "api1"}
    assert group_ids(api) == {"g1", "g3", "g4", "apig"}
    assert api.get("/api/providers/a").headers["etag"] == before_a  # untouched: no event at all
    c = api.get("/api/providers/c").json()
    assert c["description"] == "changed" and c["config"]["env"]["EXTRA"] == "1"
    # c was running: it was restarted with its new definition.
    assert c["state"] == "ready"
    assert wait_until(lambda: pids_with_mark(MARKS["c"]) not in ([], [old_c]), 5)
    g1 = api.get("/api/groups/g1").json()
    assert g1["strategy"] == "weighted_round_robin"
    assert {m["id"]: m["weight"] for m in g1["members"]} == {"a": 3, "c": 1}

    # The same file again changes nothing.
    again = api.post("/api/config/reload").json()["result"]
    assert again["providers_unchanged"] == ["a", "c", "d"] and not again["providers_updated"]
    assert again["unchanged"]["groups"] == ["g1", "g3", "g4"]
    cfg = api.get("/api/config").json()
    assert cfg["managed"] == {"providers": ["a", "c", "d"], "groups": ["g1", "g3", "g4"],
                              **{k: v for k, v in cfg["managed"].items() if k not in ("providers", "groups")}}
    rows = {p["provider_id"]: p["managed_by"] for p in cfg["config"]["providers"]}
    assert rows == {"a": "config", "c": "config", "d": "config", "api1": "api"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("providers:\n  a:\n    mode: subprocess\n    command: [x]\n    idle_tt1_s: 30\n",
         "providers.a.idle_tt1_s: unknown field"),
        ("groups:\n  g1:\n    strategy: fastest\n", "groups.g1.strategy"),
        ("runtime:\n  health: {dead_after: zero}\n", "runtime.health.dead_after"),
        ("config: {backup_keep: 0}\n", "config.backup_keep"),
        ("providers: [\n", "not valid YAML"),
    ],
)
def test_invalid_file_changes_nothing(api: httpx.Client, server: HangarProcess, text: str, fragment: str) -> None:
    before = (api.get("/api/providers").json(), api.get("/api/groups").json()["groups"])
    good = server.config.read_text()
    server.config.write_text(text)
    try:
        err = error_of(api.post("/api/config/reload"), 422)
        assert fragment in err["message"], err
    finally:
        server.config.write_text(good)
    after = (api.get("/api/providers").json(), api.get("/api/groups").json()["groups"])
    assert [p["provider_id"] for p in after[0]["providers"]] == [p["provider_id"] for p in before[0]["providers"]]
    assert [(g["group_id"], g["version"]) for g in after[1]] == [(g["group_id"], g["version"]) for g in before[1]]


def test_reload_bad_requests(api: httpx.Client, server: HangarProcess) -> None:
    before = provider_ids(api)
    assert error_of(api.post("/api/config/reload", content=b"{not json",
                             headers={"content-type": "application/json"}), 400)["error"] == "BadRequest"
    error_of(api.post("/api/config/reload", json={"graceful": "yes"}), 422)
    error_of(api.post("/api/config/reload", json={"unknown": 1}), 422)
    error_of(api.post("/api/config/reload", json={"config_path": ""}), 422)
    missing = error_of(api.post("/api/config/reload", json={"config_path": str(server.workdir / "nope.yaml")}), 422)
    assert "nope.yaml" in missing["message"]
    assert provider_ids(api) == before


def test_graceful_reload_waits_for_inflight_call(api: httpx.Client, server: HangarProcess) -> None:
    tree = v2()
    tree["providers"]["d"]["description"] = "changed while busy"
    write_yaml(server.config, tree)
    api.post("/api/providers/d/start")
    with concurrent.futures.ThreadPoolExecutor(1) as pool, httpx.Client(base_url=server.base, timeout=30) as other:
        slow = pool.submit(other.post, "/api/providers/d/tools/slow/invoke", json={"arguments": {"seconds": 1.5}})
        assert wait_until(lambda: api.get("/metrics").text.count('provider_inflight_calls{provider="d"} 1.0') == 1, 5)
        started = time.monotonic()
        res = api.post("/api/config/reload", json={"graceful": True}).json()["result"]
        assert res["providers_updated"] == ["d"]
        assert slow.result().status_code == 200  # the call finished before the restart
        assert time.monotonic() - started >= 0.5

    tree["providers"]["d"]["description"] = "changed abruptly"
    write_yaml(server.config, tree)
    with concurrent.futures.ThreadPoolExecutor(1) as pool, httpx.Client(base_url=server.base, timeout=30) as other:
        slow = pool.submit(other.post, "/api/providers/d/tools/slow/invoke", json={"arguments": {"seconds": 3}})
        assert wait_until(lambda: api.get("/metrics").text.count('provider_inflight_calls{provider="d"} 1.0') == 1, 5)
        res = api.post("/api/config/reload", json={"graceful": False}).json()["result"]
        assert res["providers_updated"] == ["d"] and res["graceful"] is False
        assert slow.result().status_code >= 500  # cut off by the restart


def test_cli_reload_and_sighup(api: httpx.Client, server: HangarProcess) -> None:
    tree = v2()
    tree["providers"]["e"] = fixture_entry(new_mark(), description="via cli")
    write_yaml(server.config, tree)
    cli = [sys.executable, "-m", "hangar.cli", "config", "reload", "--url", server.base]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"providers_added": [\n      "e"\n    ]' in done.stdout
    assert "e" in provider_ids(api)

    server.config.write_text("providers: {a: {mode: subprocess}}\n")
    done = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "422" in done.stderr and "providers.a" in done.stderr

    tree["providers"].pop("e")
    tree["providers"]["f"] = fixture_entry(new_mark(), description="via sighup")
    write_yaml(server.config, tree)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: (ids := provider_ids(api)) >= {"f"} and "e" not in ids, 10)
    assert wait_until(lambda: api.get("/api/config").json()["last_reload"]["trigger"] == "sighup", 5)


def test_settings_apply_live_or_are_reported_for_restart(api: httpx.Client, server: HangarProcess) -> None:
    tree = v2()
    tree["runtime"] = {"max_restarts": 1}
    tree["observability"] = {"history_interval_s": 0.5}
    write_yaml(server.config, tree)
    res = api.post("/api/config/reload").json()["result"]
    assert res["success"] is True and res["restart_required"] == ["runtime"]
    cfg = api.get("/api/config").json()["config"]
    assert cfg["observability"]["history_interval_s"] == 0.5  # applied
    assert cfg["runtime"]["max_restarts"] == 5  # still the running value
    assert "-  max_restarts: 1" in api.get("/api/config/diff").json()["diff"].splitlines()
    assert api.get("/api/observability/metrics/history").json()["interval_s"] == 0.5
