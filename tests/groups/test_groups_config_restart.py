"""Groups declared in the configuration, and groups surviving a restart of Hangar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hangar.config.loader import ConfigError, parse_config
from tests.groups.conftest import group_invoke, new_group
from tests.support import STDIO_FIXTURE, HangarProcess, wait_until

CONFIG = """
runtime:
  breaker_failure_threshold: 1
  group_breaker_failure_threshold: 7
providers:
  p1:
    mode: subprocess
    command: [{python}, {fixture}]
    env: {{FIXTURE_ASYNC_STDIO: "1", FIXTURE_FAIL_FILE: {flag}, FIXTURE_FAIL_MODE: rpc}}
  p2:
    mode: subprocess
    command: [{python}, {fixture}]
    env: {{FIXTURE_ASYNC_STDIO: "1"}}
groups:
  pool:
    strategy: weighted_round_robin
    min_healthy: 2
    description: Declared in the file
    auto_start: true
    circuit_breaker: {{failure_threshold: 1, reset_timeout_s: 30}}
    members:
      - {{id: p1, weight: 3}}
      - {{id: p2, priority: 2}}
"""


def test_declared_groups_and_api_groups_survive_restarts(tmp_path: Path) -> None:
    flag = tmp_path / "p1-fails"
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text(CONFIG.format(python=json.dumps(sys.executable), fixture=json.dumps(str(STDIO_FIXTURE)),
                                 flag=json.dumps(str(flag))))
    server = HangarProcess(tmp_path, config=cfg).start()
    try:
        with server.client() as api:
            pool = api.get("/api/groups/pool").json()
            assert (pool["strategy"], pool["min_healthy"], pool["description"]) == (
                "weighted_round_robin", 2, "Declared in the file")
            assert pool["circuit_breaker"]["failure_threshold"] == 1
            assert pool["circuit_breaker"]["reset_timeout_s"] == 30
            assert [(m["id"], m["weight"], m["priority"]) for m in pool["members"]] == [("p1", 3, 1), ("p2", 1, 2)]
            # auto_start: the members are started in the background at boot.
            assert wait_until(lambda: all(m["state"] == "ready" for m in api.get("/api/groups/pool").json()["members"]),
                              30, 0.2)
            version = api.get("/api/groups/pool").json()["version"]

            gid = new_group(api, ["p2"], strategy="priority", description="made through the API")
            assert group_invoke(api, gid, "add", a=1, b=1).status_code == 200
            flag.touch()  # p1 fails: its breaker opens (threshold 1), and then the group's
            assert group_invoke(api, "pool", "add", a=1, b=1).status_code == 200  # failed over to p2
            api.delete("/api/groups/pool/members/p2")
            assert group_invoke(api, "pool", "add", a=1, b=1).status_code in (502, 503)
            assert api.get("/api/groups/pool").json()["circuit_breaker_state"] == "open"
        server.stop()

        flag.unlink()
        server = HangarProcess(tmp_path, config=cfg, db_url=server.db_url).start()
        with server.client() as api:
            mine = api.get(f"/api/groups/{gid}").json()
            assert (mine["strategy"], mine["description"]) == ("priority", "made through the API")
            assert [m["id"] for m in mine["members"]] == ["p2"]
            pool = api.get("/api/groups/pool").json()
            # The file is authoritative for the members of a group it declares.
            assert [m["id"] for m in pool["members"]] == ["p1", "p2"]
            # Breakers are runtime state: the restart recorded the open one as closed.
            assert pool["circuit_breaker_state"] == "closed"
            assert group_invoke(api, "pool", "add", a=2, b=2).status_code == 200
            assert api.get("/api/groups/pool").json()["version"] > version
    finally:
        server.stop()


BASE = """
providers:
  p: {mode: subprocess, command: [python, x.py]}
"""


@pytest.mark.parametrize(("groups", "expected"), [
    ("groups: {pool: {strategy: bogus}}", "groups.pool.strategy"),
    ("groups: {pool: {health: {unhealthy_threshold: 2}}}", "groups.pool.health: unknown field"),
    ("groups: {pool: {members: [{id: p, weight: 0}]}}", "groups.pool.members[0].weight"),
    ("groups: {pool: {members: [{member: p}]}}", "groups.pool.members[0].member: unknown field"),
    ("groups: {pool: {members: [{id: p}, {id: p}]}}", "groups.pool: members: 'p' is listed twice"),
    ("groups: {p: {}}", "groups.p: a provider has the same id"),
    ("groups: {'bad.id': {}}", "groups.bad.id: Invalid group_id"),
    ("groups: {pool: {min_healthy: 0}}", "groups.pool.min_healthy"),
])
def test_config_errors_name_the_key(groups: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + groups, "hangar.yaml")
    assert expected in err.value.message


def test_peer_style_group_entries_are_accepted() -> None:
    cfg = parse_config(BASE + """
  pool:
    mode: group
    strategy: priority
    members:
      - {id: p, weight: 2, priority: 1}
""", "hangar.yaml")
    assert cfg.groups["pool"].strategy == "priority" and cfg.groups["pool"].members[0].weight == 2
    assert "pool" not in cfg.providers
