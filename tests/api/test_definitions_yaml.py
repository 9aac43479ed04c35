"""YAML definitions: export to the confined directory, import with ``seed_only`` (twice: the
second appends no event) and ``overwrite_conflicts`` (restores the files' definitions), and a
broken file that rejects the whole import, naming file and key."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.discovery.conftest import assert_envelope
from tests.support import HangarProcess

MATH = [sys.executable, "-m", "hangar.examples.math_server"]
SKILL = {"namespace": "io.github.test", "name": "yaml-skill", "description": "From YAML", "version": "1.0.0"}


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return "providers: {}\n"


def event_count(server: HangarProcess) -> int:
    path = server.db_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def populate(api: httpx.Client) -> None:
    r = api.post("/api/providers", json={"provider_id": "ymath", "mode": "subprocess", "command": MATH,
                                         "description": "math", "env": {"API_TOKEN": "s3cret", "LEVEL": "2"}})
    assert r.status_code == 201, r.text
    assert api.post("/api/groups", json={"group_id": "ypool", "strategy": "priority"}).status_code == 201
    assert api.post("/api/groups/ypool/members", json={"member_id": "ymath", "weight": 3}).status_code == 201
    assert api.post("/api/catalog", json={"name": "io.github.y/cat", "description": "cat entry",
                                          "mode": "subprocess", "command": MATH}).status_code == 201
    assert api.post("/registry/default/v0.1/x/dev.toolhive/skills", json=SKILL).status_code == 201


def definitions(server: HangarProcess) -> Path:
    return server.workdir / "definitions"


def test_export_writes_one_file_per_resource_with_secret_placeholders(api: httpx.Client, hangar) -> None:  # type: ignore[no-untyped-def]
    populate(api)
    r = api.post("/api/config/export", params={"format": "dir"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["files"] == sorted(["catalog/io.github.y_cat.yaml", "groups/ypool.yaml", "providers/ymath.yaml",
                                    "skills/io.github.test/yaml-skill/1.0.0.yaml"])
    root = definitions(hangar)
    provider = yaml.safe_load((root / "providers/ymath.yaml").read_text())
    assert provider["kind"] == "provider" and provider["id"] == "ymath"
    assert provider["spec"]["env"] == {"API_TOKEN": "${secret:API_TOKEN}", "LEVEL": "2"}
    assert "s3cret" not in "".join(p.read_text() for p in root.rglob("*.yaml"))
    group = yaml.safe_load((root / "groups/ypool.yaml").read_text())
    assert group["spec"]["members"] == [{"provider_id": "ymath", "weight": 3, "priority": 1}]
    # the legacy export is unchanged
    assert set(api.post("/api/config/export").json()) == {"yaml"}
    assert_envelope(api.post("/api/config/export", params={"format": "dir", "dir": "../etc"}), 422)


def test_seed_only_twice_appends_nothing_the_second_time(api: httpx.Client, hangar) -> None:  # type: ignore[no-untyped-def]
    before = event_count(hangar)
    r = api.post("/api/config/import", params={"strategy": "seed_only"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == [] and body["conflicting"] == [] and body["updated"] == []
    assert len(body["unchanged"]) == 4
    r2 = api.post("/api/config/import", params={"strategy": "seed_only"})
    assert r2.json() == body
    assert event_count(hangar) == before


def test_seed_only_reports_conflicts_and_overwrite_restores(api: httpx.Client, hangar) -> None:  # type: ignore[no-untyped-def]
    edit = {"description": "edited", "env": {"LEVEL": "9", "API_TOKEN": "s3cret"}}
    assert api.put("/api/providers/ymath", json=edit).status_code == 200
    assert api.put("/api/groups/ypool", json={"min_healthy": 2}).status_code == 200
    api.delete("/registry/default/v0.1/x/dev.toolhive/skills/io.github.test/yaml-skill/versions/1.0.0")
    r = api.post("/api/config/import", params={"strategy": "seed_only"}).json()
    assert r["conflicting"] == ["provider:ymath", "group:ypool"]
    assert r["created"] == ["skill:io.github.test/yaml-skill@1.0.0"]
    assert api.get("/api/providers/ymath").json()["description"] == "edited"
    r = api.post("/api/config/import", params={"strategy": "overwrite_conflicts"}).json()
    assert r["updated"] == ["provider:ymath", "group:ypool"] and r["conflicting"] == []
    detail = api.get("/api/providers/ymath").json()
    assert detail["description"] == "math"
    assert api.get("/api/groups/ypool").json()["min_healthy"] == 1
    # the secret the file only names came back from the value the provider held
    exported = api.post("/api/config/export", params={"format": "bundle"}).json()["files"]
    assert yaml.safe_load(exported["providers/ymath.yaml"])["spec"]["env"] == {
        "API_TOKEN": "${secret:API_TOKEN}", "LEVEL": "2"}
    before = event_count(hangar)
    assert len(api.post("/api/config/import", params={"strategy": "overwrite_conflicts"}).json()["unchanged"]) == 4
    assert event_count(hangar) == before


def test_one_broken_file_changes_nothing_and_is_named(api: httpx.Client, hangar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = definitions(hangar) / "broken"
    shutil.copytree(definitions(hangar), broken, ignore=shutil.ignore_patterns("broken"))
    doc = yaml.safe_load((broken / "providers/ymath.yaml").read_text())
    doc["spec"]["description"] = "should not land"
    (broken / "providers/ymath.yaml").write_text(yaml.safe_dump(doc))
    (broken / "providers/new-one.yaml").write_text(yaml.safe_dump(
        {"kind": "provider", "id": "new-one", "spec": {"mode": "subprocess", "command": MATH}}))
    (broken / "groups/bad.yaml").write_text(yaml.safe_dump(
        {"kind": "group", "id": "bad", "spec": {"strategy": "round_robin", "min_healthy": "lots"}}))
    before = event_count(hangar)
    body = assert_envelope(api.post("/api/config/import", params={"strategy": "overwrite_conflicts",
                                                                  "dir": "broken"}), 422)
    assert "groups/bad.yaml: spec.min_healthy" in body["message"], body
    assert event_count(hangar) == before
    assert api.get("/api/providers/new-one").status_code == 404
    assert api.get("/api/providers/ymath").json()["description"] == "math"
    (broken / "groups/bad.yaml").write_text("kind: group\nid: bad\nspec: [unclosed\n")
    body = assert_envelope(api.post("/api/config/import", params={"dir": "broken"}), 422)
    assert "groups/bad.yaml: line" in body["message"]
    # an uploaded bundle is checked the same way
    bundle = {"files": {"providers/x.yaml": "kind: provider\nid: x\nspec: {mode: subprocess, bogus: 1}\n"}}
    body = assert_envelope(api.post("/api/config/import", json=bundle), 422)
    assert "providers/x.yaml: spec.bogus: unknown key" in body["message"]
    assert_envelope(api.post("/api/config/import", json={"files": {"../x.yaml": "a: 1"}}), 422)
    assert event_count(hangar) == before


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hangar.cli", *args], capture_output=True, text=True, timeout=60)


def test_cli_export_then_import_into_a_fresh_server(hangar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "defs"
    done = cli("export", str(out), "--url", hangar.base)
    assert done.returncode == 0, done.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.yaml"))
    assert len(files) == 4
    work = tmp_path / "fresh"
    work.mkdir()
    other = HangarProcess(work, env={"API_TOKEN": "from-env"}).start()
    try:
        done = cli("import", str(out), "--url", other.base)
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)["created"]) == 4
        with other.client() as c:
            assert c.post("/api/config/export", params={"format": "bundle"}).json()["files"] == {
                f: (out / f).read_text() for f in files}
        (out / "providers/ymath.yaml").write_text("kind: provider\nid: ymath\nspec: {mode: nope}\n")
        bad = cli("import", str(out), "--url", other.base)
        assert bad.returncode == 2 and "providers/ymath.yaml: spec.mode" in bad.stderr
    finally:
        other.stop()
