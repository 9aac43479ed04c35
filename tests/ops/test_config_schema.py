"""The config schema for operations settings, mcp-hangar's file shape, secret protection and
backup rotation: pure functions, no server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hangar.config.backup import list_backups, write_backup
from hangar.config.export import protect, protect_pair, unified_diff
from hangar.config.loader import ConfigError, parse_config, to_spec
from hangar.config.reload import plan_section

CMD = f"[{sys.executable}, server.py]"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"providers:\n  m:\n    mode: subprocess\n    command: {CMD}\n    build: {{context: .}}\n",
         "providers.m.build: building images is not supported"),
        (f"providers:\n  m:\n    mode: subprocess\n    command: {CMD}\n    max_consecutive_failures: 3\n",
         "providers.m.max_consecutive_failures: not supported per provider; set runtime.health.dead_after"),
        (f"providers:\n  m:\n    mode: subprocess\n    command: {CMD}\n    tools: {{allow_list: [add]}}\n",
         "providers.m.tools: allow/deny lists are tool policies"),
        (f"providers:\n  m:\n    mode: subprocess\n    command: {CMD}\n    tools: [{{name: a, schema: {{}}}}]\n",
         "providers.m.tools[0].schema: unknown field"),
        (f"providers:\n  m:\n    mode: subprocess\n    command: {CMD}\n    network: none\n    network_mode: host\n",
         "providers.m.network_mode: conflicts with 'network'"),
        ("providers:\n  pool:\n    mode: group\n    members: [{id: m}]\n    health: {unhealthy_threshold: 2}\n",
         "providers.pool.health: group health thresholds are not supported"),
        ("providers:\n  pool:\n    mode: group\n    members: [{id: m, tools: {deny_list: [x]}}]\n",
         "providers.pool.members[0].tools"),
        ("execution: {max_concurrency: 50}\n", "execution: mcp-hangar setting"),
        ("config_reload: {enabled: true}\n", "config_reload: mcp-hangar setting; use config.watch"),
        ("config: {backup_kept: 3}\n", "config.backup_kept: unknown field"),
        ("config: {watch_interval_s: 0}\n", "config.watch_interval_s"),
        ("observability: {alerts: {start_failures: 2}}\n", "observability.alerts.start_failures: unknown field"),
        ("observability: {history_interval_s: fast}\n", "observability.history_interval_s"),
    ],
)
def test_rejected_with_the_key_and_advice(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert fragment in info.value.message


def test_peer_file_shape_is_accepted() -> None:
    cfg = parse_config(f"""
providers:
  math:
    mode: subprocess
    command: {CMD}
    description: Tiny math/echo provider
    idle_ttl_s: 300
    health_check_interval_s: 60
    network_mode: bridge
    tools:
      - name: add
        description: Add two numbers
        inputSchema: {{type: object, properties: {{a: {{type: integer}}}}}}
  pool:
    mode: group
    strategy: round_robin
    min_healthy: 1
    auto_start: true
    description: Example group
    members:
      - id: math
        weight: 1
        priority: 1
""")
    spec = to_spec(cfg.providers["math"])
    assert spec.network == "bridge" and spec.tools is not None
    assert spec.tools[0].input_schema == {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert set(cfg.providers) == {"math"} and cfg.groups["pool"].members[0].id == "math"
    assert cfg.groups["pool"].auto_start is True


def test_secrets_are_redacted_or_referenced() -> None:
    tree = {
        "event_store": {"url": "postgresql+asyncpg://hangar:pw-123@db:5432/hangar"},
        "auth": {"admin_key_env": "HANGAR_ADMIN_KEY", "signing_secret": "s-1"},
        "providers": {"p": {"env": {"API_KEY": "k-1", "GITHUB_TOKEN": "t-1", "LEVEL": "info"}}},
    }
    red = protect(tree, "redact")
    assert red["event_store"]["url"] == "postgresql+asyncpg://hangar:***@db:5432/hangar"
    assert red["auth"] == {"admin_key_env": "HANGAR_ADMIN_KEY", "signing_secret": "***"}
    assert red["providers"]["p"]["env"] == {"API_KEY": "***", "GITHUB_TOKEN": "***", "LEVEL": "info"}
    ref = protect(tree, "reference", {"providers.p.env.GITHUB_TOKEN": "${GH_PAT}"})
    assert ref["providers"]["p"]["env"]["API_KEY"] == "${API_KEY}"
    assert ref["auth"]["signing_secret"] == "${HANGAR_AUTH_SIGNING_SECRET}"
    # The file's own reference is kept only while it still yields the value in memory.
    assert ref["providers"]["p"]["env"]["GITHUB_TOKEN"] == "${GITHUB_TOKEN}"
    ok = protect(tree, "reference", {"providers.p.env.GITHUB_TOKEN": "${GH_PAT_UNSET_X:-t-1}"})
    assert ok["providers"]["p"]["env"]["GITHUB_TOKEN"] == "${GH_PAT_UNSET_X:-t-1}"
    assert "k-1" not in str(ref) and "t-1" not in str(red)


def test_diff_masks_secrets_on_both_sides() -> None:
    disk = {"providers": {"p": {"env": {"TOKEN": "a", "X": "1"}}}}
    same, _, _ = unified_diff(disk, {"providers": {"p": {"env": {"TOKEN": "a", "X": "1"}}}})
    assert same == ""
    text, d, m = unified_diff(disk, {"providers": {"p": {"env": {"TOKEN": "b", "X": "2"}}}})
    assert "+      TOKEN: '*** (changed)'" in text.splitlines() and "-      X: '1'" in text.splitlines()
    assert d["providers"]["p"]["env"]["TOKEN"] == "***" and "b" not in str(m["providers"]["p"]["env"]["TOKEN"])
    assert protect_pair({"TOKEN": "a"}, {}) == ({"TOKEN": "***"}, {})


def test_plan_removes_only_managed_ids() -> None:
    plan = plan_section({"a": 1, "c": 3, "d": 4}, {"a": 1, "b": 2, "c": 30, "api": 9}, managed={"a", "b", "c"})
    assert (list(plan.added), list(plan.changed), plan.removed, plan.unchanged) == (["d"], ["c"], ["b"], ["a"])


def test_backup_rotation_keeps_the_newest(tmp_path: Path) -> None:
    made = [write_backup(tmp_path / "bk", "hangar", f"v{i}".encode(), keep=2)[0] for i in range(4)]
    kept = list_backups(tmp_path / "bk", "hangar")
    assert kept == made[-2:] and [p.read_text() for p in kept] == ["v2", "v3"]
    (tmp_path / "bk" / "hangar.notes.yaml").write_text("mine")  # not a backup: never deleted
    write_backup(tmp_path / "bk", "hangar", b"v4", keep=1)
    assert (tmp_path / "bk" / "hangar.notes.yaml").exists() and len(list_backups(tmp_path / "bk", "hangar")) == 1
