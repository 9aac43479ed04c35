"""Clients, secrets, registries and skills over /api/v1beta against a real server; every
response is checked against ToolHive's pinned OpenAPI document."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.support import STDIO_FIXTURE, HangarProcess, pids_with_mark, wait_until
from tests.toolhive.frames import FrameRecorder
from tests.toolhive.swagger import check, check_as

V = "/api/v1beta"
FOREIGN = {"command": "other-server", "args": ["--stdio"]}
FILES = {
    "cursor": (".cursor/mcp.json", "mcpServers"),
    "vscode": (".config/Code/User/mcp.json", "servers"),
    "claude-code": (".claude.json", "mcpServers"),
}


def test_register_writes_each_clients_file_keeps_foreign_entries_and_is_idempotent(
    hangar: HangarProcess, api: httpx.Client, home: Path
) -> None:
    for rel, key in FILES.values():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({key: {"mine": FOREIGN}, "theme": "dark"}))
    with FrameRecorder(hangar.base.replace("http://", "ws://") + "/api/ws/events") as frames:
        r = check(api.post(f"{V}/clients/register", json={"names": list(FILES)}))
        assert sorted(c["name"] for c in r.json()) == sorted(FILES)
        # Registration is an event, one per client.
        assert wait_until(lambda: sum("ClientRegistered" in f for f in frames.frames) == len(FILES))
    first = {}
    for client, (rel, key) in FILES.items():
        doc = json.loads((home / rel).read_text())
        assert doc["theme"] == "dark" and doc[key]["mine"] == FOREIGN
        assert doc[key]["hangar"]["url"] == f"{hangar.base}/mcp"
        first[client] = (home / rel).read_text()
    # Idempotent: registering again changes no file and records nothing new.
    check(api.post(f"{V}/clients", json={"name": "cursor"}))
    assert all((home / rel).read_text() == first[c] for c, (rel, _) in FILES.items())
    listed = check(api.get(f"{V}/clients")).json()
    assert {c["name"] for c in listed} >= set(FILES)
    disc = check(api.get(f"{V}/discovery/clients")).json()["clients"]
    row = next(c for c in disc if c["client_type"] == "cursor")
    assert row["installed"] and row["registered"] and not row["supports_skills"]
    assert next(c for c in disc if c["client_type"] == "claude-code")["supports_skills"]
    groups = check(api.get(f"{V}/groups/default")).json()
    assert set(FILES) <= set(groups["registered_clients"])
    # Unregister removes only Hangar's entry.
    assert check(api.post(f"{V}/clients/unregister", json={"names": ["cursor", "vscode"]})).status_code == 204
    assert check(api.delete(f"{V}/clients/claude-code")).status_code == 204
    for rel, key in FILES.values():
        doc = json.loads((home / rel).read_text())
        assert doc[key] == {"mine": FOREIGN} and doc["theme"] == "dark"
    assert check(api.get(f"{V}/clients")).json() == []
    # Every other client writes a file that parses, in its own location.
    for client in ("windsurf", "cline", "roo-code", "claude-desktop"):
        api.post(f"{V}/clients", json={"name": client})
    assert "serverUrl" in json.loads((home / ".codeium/windsurf/mcp_config.json").read_text())["mcpServers"]["hangar"]
    desktop = json.loads((home / ".config/Claude/claude_desktop_config.json").read_text())
    assert desktop["mcpServers"]["hangar"]["args"][-1] == f"{hangar.base}/mcp"
    # Claude Desktop is Hangar's addition to ToolHive's client list (its schema has no such name).
    assert api.post(f"{V}/clients/unregister", json={"names": ["windsurf", "cline", "roo-code", "claude-desktop"]}
                    ).status_code == 204
    assert desktop.keys() == json.loads((home / ".config/Claude/claude_desktop_config.json").read_text()).keys()


def test_client_bad_input_changes_nothing(api: httpx.Client, home: Path) -> None:
    before = check(api.get(f"{V}/clients")).json()
    bad = home / ".cursor" / "mcp.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("{ not json")
    for method, path, payload, expected in [
        ("POST", f"{V}/clients", {"name": "notepad"}, 400),
        ("POST", f"{V}/clients", {"name": "../../etc"}, 400),
        ("POST", f"{V}/clients", {"name": "cursor"}, 400),  # its file does not parse: left alone
        ("POST", f"{V}/clients/register", {"names": ["cursor", "notepad"]}, 400),
        ("POST", f"{V}/clients/register", {"names": "cursor"}, 400),
        ("POST", f"{V}/clients/unregister", {"names": ["windsurf-x"]}, 400),
        ("DELETE", f"{V}/clients/notepad", None, 400),
        ("DELETE", f"{V}/clients/cursor/groups/missing", None, 404),
    ]:
        r = api.request(method, path, json=payload) if payload is not None else api.request(method, path)
        assert r.status_code == expected, (method, path, r.text)
        check(r)
    assert bad.read_text() == "{ not json"
    assert check(api.get(f"{V}/clients")).json() == before


def test_secrets_are_sealed_resolved_at_start_and_never_shown(hangar: HangarProcess, api: httpx.Client) -> None:
    value = f"s3cret-{uuid.uuid4().hex}"
    rotated = f"r0tated-{uuid.uuid4().hex}"
    # Before set-up: 404.
    assert check(api.get(f"{V}/secrets/default")).status_code == 404
    assert check(api.post(f"{V}/secrets/default/keys", json={"key": "K", "value": "v"})).status_code == 404
    frames = FrameRecorder(hangar.base.replace("http://", "ws://") + "/api/ws/events").__enter__()
    assert check(api.post(f"{V}/secrets", json={"provider_type": "encrypted"})).status_code == 201
    assert check(api.get(f"{V}/secrets/default")).json()["capabilities"]["can_write"] is True
    assert check(api.post(f"{V}/secrets/default/keys", json={"key": "api-key", "value": value})).status_code == 201
    assert check(api.post(f"{V}/secrets/default/keys", json={"key": "api-key", "value": "x"})).status_code == 409
    assert check(api.put(f"{V}/secrets/default/keys/none", json={"value": "x"})).status_code == 404
    assert check(api.get(f"{V}/secrets/default/keys")).json()["keys"] == [{"key": "api-key"}]

    n, mark = f"sec-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    body = {"name": n, "image": f"cmd://{sys.executable}", "cmd_arguments": [str(STDIO_FIXTURE)],
            "env_vars": {"HANGAR_TEST_MARK": mark}, "secrets": [{"name": "api-key", "target": "SERVICE_TOKEN"}]}
    check(api.post(f"{V}/workloads", json=body))
    check(api.post(f"{V}/workloads/{n}/restart"))
    [pid] = pids_with_mark(mark)
    assert f"SERVICE_TOKEN={value}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

    # Rotation restarts the running provider with the new value; the stop says why.
    check(api.put(f"{V}/secrets/default/keys/api-key", json={"value": rotated}))
    assert wait_until(lambda: len(pids_with_mark(mark)) == 1 and pids_with_mark(mark)[0] != pid, 20)
    [pid2] = pids_with_mark(mark)
    assert f"SERVICE_TOKEN={rotated}".encode() in Path(f"/proc/{pid2}/environ").read_bytes().split(b"\0")
    events = api.get("/api/observability/audit", params={"limit": 500}).text

    # A missing secret fails the start naming the secret, never a value.
    m = f"miss-{uuid.uuid4().hex[:6]}"
    check(api.post(f"{V}/workloads", json=body | {"name": m, "secrets": [{"name": "absent", "target": "T"}]}))
    r = api.post(f"/api/providers/{m}/start")
    assert r.status_code >= 400 and "absent" in r.text
    assert check(api.get(f"{V}/workloads/{m}/status")).json()["status"] == "error"

    seen = [api.get(p).text for p in (f"{V}/workloads/{n}", f"{V}/workloads/{n}/export", f"/api/providers/{n}",
                                      f"{V}/workloads?all=true", "/api/config", f"{V}/secrets/default/keys")]
    seen.append(events)
    seen.append(api.post("/api/config/export", json={}).text)
    check(api.post(f"{V}/workloads/{n}/stop"))
    frames.__exit__()
    assert any("SecretStored" in f for f in frames.frames) and any("secret_rotated:api-key" in f for f in frames.frames)
    seen += frames.frames
    hangar.stop()
    logs = hangar.log_path.read_text()
    stored = b"".join(p.read_bytes() for p in hangar.workdir.glob("hangar.db*"))
    for secret in (value, rotated):
        assert all(secret not in text for text in seen)
        assert secret not in logs
        assert secret.encode() not in stored
    hangar.start()
    # The read model rebuilt from the log after the restart holds the same state.
    assert check(api.get(f"{V}/secrets/default/keys")).json()["keys"] == [{"key": "api-key"}]
    assert check(api.get(f"{V}/workloads/{n}/export")).json()["secrets"] == ["api-key,target=SERVICE_TOKEN"]


def test_secrets_environment_provider_is_read_only(api: httpx.Client) -> None:
    check(api.post(f"{V}/secrets", json={"provider_type": "environment"}))
    assert check(api.post(f"{V}/secrets/default/keys", json={"key": "k", "value": "v"})).status_code == 405
    assert check(api.delete(f"{V}/secrets/default/keys/api-key")).status_code == 405
    assert check(api.get(f"{V}/secrets/default/keys")).status_code == 405
    assert check(api.post(f"{V}/secrets", json={"provider_type": "vault9"})).status_code == 400
    check(api.post(f"{V}/secrets", json={"provider_type": "encrypted"}))
    assert check(api.delete(f"{V}/secrets/default/keys/api-key")).status_code == 204


def test_registries_over_the_catalog_and_a_registered_source(api: httpx.Client, tmp_path: Path) -> None:
    doc = {"version": "1.0.0", "last_updated": "2026-01-01T00:00:00Z", "servers": {
        "fetch": {"description": "Fetches URLs", "image": "ghcr.io/example/fetch:1.2", "transport": "stdio",
                  "tools": ["fetch"], "args": ["--quiet"], "tier": "Official", "status": "Active",
                  "env_vars": [{"name": "PROXY", "description": "proxy", "required": False}],
                  "permissions": {"network": {"outbound": {"allow_host": ["example.com"]}}},
                  "provenance": {"source_repository_uri": "https://github.com/example/fetch"}}},
        "remote_servers": {"remote-one": {"description": "A remote", "url": "https://mcp.example.com/mcp",
                                          "transport": "streamable-http", "tools": ["x"]}}}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(doc))
    r = check_as(api.post(f"{V}/registry", json={"name": "local", "local_path": str(path)}), "pkg_api_v1.registryInfo")
    assert r.status_code == 201 and r.json()["server_count"] == 2
    names = [x["name"] for x in check(api.get(f"{V}/registry")).json()["registries"]]
    assert names[0] == "default" and "local" in names
    servers = check(api.get(f"{V}/registry/local/servers")).json()
    fetch = servers["servers"][0]
    assert fetch["image"] == "ghcr.io/example/fetch:1.2" and fetch["args"] == ["--quiet"]
    assert fetch["permissions"]["network"]["outbound"]["allow_host"] == ["example.com"]
    assert fetch["provenance"]["source_repository_uri"].endswith("/fetch")
    assert servers["remote_servers"][0]["url"] == "https://mcp.example.com/mcp"
    assert check(api.get(f"{V}/registry/local/servers/fetch")).json()["is_remote"] is False
    full = check(api.get(f"{V}/registry/local")).json()
    assert set(full["registry"]["servers"]) == {"fetch"}
    # The schedule (every second here) picks up a change of the document ...
    doc["servers"]["fetch"]["image"] = "ghcr.io/example/fetch:1.3"
    path.write_text(json.dumps(doc))
    assert wait_until(lambda: api.get(f"{V}/registry/local/servers/fetch").json()["server"]["image"].endswith(":1.3"))
    # ... and so does a refresh on demand.
    doc["servers"]["fetch"]["image"] = "ghcr.io/example/fetch:1.4"
    path.write_text(json.dumps(doc))
    assert check(api.post(f"{V}/registry/local/refresh")).json()["server_count"] == "2"
    assert check(api.get(f"{V}/registry/local/servers/fetch")).json()["server"]["image"].endswith(":1.4")
    # The default registry is the catalog.
    api.post("/api/catalog/import", json={"document": doc})
    default = check(api.get(f"{V}/registry/default/servers")).json()
    assert any(s["name"] == "fetch" for s in default["servers"])
    for method, p, payload, expected in [
        ("GET", f"{V}/registry/missing", None, 404),
        ("GET", f"{V}/registry/local/servers/missing", None, 404),
        ("DELETE", f"{V}/registry/default", None, 403),
        ("PUT", f"{V}/registry/local", {"url": "ftp://x"}, 400),
        ("POST", f"{V}/registry/missing/refresh", None, 404),
    ]:
        r = api.request(method, p, json=payload) if payload is not None else api.request(method, p)
        assert r.status_code == expected, (method, p, r.text)
        check(r)
    assert check(api.delete(f"{V}/registry/local")).status_code == 204


def _skill(folder: Path, name: str, description: str = "Does things") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\nversion: 1.0.0\n---\n# Hi\n")
    return folder


def test_skills_install_from_path_and_git_validate_and_delete(api: httpx.Client, home: Path, tmp_path: Path) -> None:
    src = _skill(tmp_path / "pdf-tools", "pdf-tools")
    r = check(api.post(f"{V}/skills", json={"name": str(src), "clients": ["claude-code"]}))
    assert r.status_code == 201 and r.json()["skill"]["metadata"]["name"] == "pdf-tools"
    assert (home / ".claude/skills/pdf-tools/SKILL.md").is_file()
    assert check(api.post(f"{V}/skills", json={"name": str(src)})).status_code == 409
    # A local git repository over file:// installs offline.
    repo = _skill(tmp_path / "git-skill", "git-skill")
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "s"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    check(api.post(f"{V}/skills", json={"name": f"file://{repo}"}))
    assert (home / ".claude/skills/git-skill/SKILL.md").is_file()
    assert not (home / ".claude/skills/git-skill/.git").exists()
    listed = check(api.get(f"{V}/skills")).json()["skills"]
    assert {s["metadata"]["name"] for s in listed} == {"pdf-tools", "git-skill"}
    assert check(api.get(f"{V}/skills/pdf-tools")).json()["installed_skill"]["clients"] == ["claude-code"]
    # Validate reports every problem at once.
    broken = tmp_path / "Broken"
    broken.mkdir()
    (broken / "SKILL.md").write_text("---\nname: Bad Name\ntags: 3\n---\n")
    report = check(api.post(f"{V}/skills/validate", json={"path": str(broken)})).json()
    assert report["valid"] is False and len(report["errors"]) == 3
    assert check(api.post(f"{V}/skills/validate", json={"path": str(src)})).json()["valid"] is True
    for method, p, payload, expected in [
        ("POST", f"{V}/skills", {"name": str(broken)}, 400),
        ("POST", f"{V}/skills", {"name": "relative/path"}, 404),
        ("POST", f"{V}/skills", {"name": str(src), "clients": ["notepad"]}, 400),
        ("POST", f"{V}/skills/validate", {"path": "../x"}, 400),
        ("GET", f"{V}/skills/missing", None, 404),
        ("POST", f"{V}/skills", {"name": str(src), "clients": ["../../x"]}, 400),
        ("GET", f"{V}/skills/.hidden", None, 400),
        ("DELETE", f"{V}/skills/missing", None, 404),
    ]:
        r = api.request(method, p, json=payload) if payload is not None else api.request(method, p)
        assert r.status_code == expected, (p, r.status_code, r.text)
        check(r)
    assert check(api.delete(f"{V}/skills/pdf-tools")).status_code == 204
    assert not (home / ".claude/skills/pdf-tools").exists()


def test_skill_installs_by_name_from_hangars_skills_registry(api: httpx.Client, home: Path, tmp_path: Path) -> None:
    repo = tmp_path / "skills-repo"
    _skill(repo / "skills" / "lint-helper", "lint-helper")
    for cmd in (["init", "-q", "-b", "main"], ["add", "."],
                ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "s"], ["tag", "v1.0.0"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    published = {"namespace": "io.example", "name": "lint-helper", "description": "Lints", "version": "1.0.0",
                 "packages": [{"registryType": "git", "url": f"file://{repo}", "ref": "v1.0.0",
                               "subfolder": "skills/lint-helper"}]}
    assert api.post("/registry/default/v0.1/x/dev.toolhive/skills", json=published).status_code == 201
    r = check(api.post(f"{V}/skills", json={"name": "io.example/lint-helper", "clients": ["claude-code"]}))
    assert r.json()["skill"]["reference"] == "io.example/lint-helper"
    assert (home / ".claude/skills/lint-helper/SKILL.md").is_file()
    assert check(api.post(f"{V}/skills", json={"name": "io.example/absent"})).status_code == 404
    check(api.delete(f"{V}/skills/lint-helper"))
