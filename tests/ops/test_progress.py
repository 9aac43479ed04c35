"""Long work shows its course: throttled progress lines in the server log, a display in the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from hangar.app.progress import Progress, reporting
from hangar.cli_client.progress import PlainSink
from tests.discovery.conftest import math_def, register, write_def
from tests.ops.conftest import fixture_entry, new_mark, write_yaml
from tests.support import HangarProcess, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_throttled_to_tenths_and_seconds_with_one_final_line() -> None:
    clock = Clock()
    with capture_logs() as logs:
        p = Progress("demo", 100, clock=clock)
        for i in range(100):
            clock.now += 0.001
            p.advance(outcome="failed" if i % 10 == 0 else "ok")
        p.finish()
    lines = [e for e in logs if e["event"] == "progress"]
    assert [e["done"] for e in lines] == [10, 20, 30, 40, 50, 60, 70, 80, 90]  # the 100th: the final line
    [done] = [e for e in logs if e["event"] == "progress_done"]
    assert done["done"] == done["total"] == 100 and done["failed"] == 10 and done["ok"] == 90
    assert done["elapsed_s"] == pytest.approx(0.1) and done["per_s"] == pytest.approx(1000, rel=0.01)

    # A handful of items: no line per item, only the final one.
    with capture_logs() as logs:
        p = Progress("small", 6, clock=clock)
        for _ in range(6):
            clock.now += 0.001
            p.advance()
        p.finish()
    assert [e["event"] for e in logs] == ["progress_done"]

    # Without a total, only time throttles: a line a second at most.
    with capture_logs() as logs:
        p = Progress("open-ended", clock=clock)
        for _ in range(30):
            clock.now += 0.25
            p.advance()
        p.finish()
        p.finish()  # the final line is written once
    assert [e["done"] for e in logs if e["event"] == "progress"] == [4, 8, 12, 16, 20, 24, 28]
    assert sum(e["event"] == "progress_done" for e in logs) == 1


def test_a_sink_replaces_the_log_lines(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as stream, capture_logs() as logs, reporting(PlainSink(stream)):
        p = Progress("demo", 20)
        for _ in range(20):
            p.advance(outcome="added")
        p.item(item="x", found=3)
        p.finish()
    assert logs == []
    lines = out.read_text().splitlines()
    assert lines[0].startswith("demo: 2/20 (10%)") and "added=2" in lines[0]
    assert "item=x found=3" in lines[-2]
    assert lines[-1].startswith("demo done: 20/20 in ") and lines[-1].endswith("added=20")


def test_catalog_import_cli_prints_progress_lines_when_piped(tmp_path: Path) -> None:
    doc = tmp_path / "catalog.json"
    doc.write_text(json.dumps({"entries": [
        {"name": f"example/s{i}", "description": "x", "command": [sys.executable, "-m", "x"]} for i in range(30)]}))
    db = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    r = subprocess.run([sys.executable, "-m", "hangar.cli", "catalog", "import", str(doc), "--db", db],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hangar: 30 added, 0 updated, 0 unchanged, 0 skipped"  # stdout: the result only
    steps = [ln for ln in r.stderr.splitlines() if ln.startswith("catalog_import: ")]
    assert [ln.split()[1] for ln in steps] == [f"{n}/30" for n in (3, 6, 9, 12, 15, 18, 21, 24, 27)]
    assert all("/s " in ln for ln in steps)
    assert any(ln.startswith("catalog_import done: 30/30 in ") and ln.endswith("added=30")
               for ln in r.stderr.splitlines()), r.stderr


def test_catalog_import_cli_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty

    doc = tmp_path / "catalog.json"
    doc.write_text(json.dumps({"entries": [
        {"name": f"example/t{i}", "description": "x", "command": [sys.executable, "-m", "x"]} for i in range(5)]}))
    main, sub = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "hangar.cli", "catalog", "import", str(doc),
                            "--db", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"],
                           stdout=subprocess.PIPE, stderr=sub, timeout=60, cwd=tmp_path,
                           env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
        os.close(sub)
        screen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(main)
    assert r.returncode == 0
    text = screen.decode(errors="replace")
    assert "catalog_import" in text and "5/5" in text and "\x1b[" in text  # drawn, not plain lines
    assert "catalog_import done:" not in text


# --- against a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = tmp_path_factory.mktemp("progress")
    proc = HangarProcess(work, config=write_yaml(work / "hangar.yaml", {"providers": {}})).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(srv: HangarProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


def log_events(srv: HangarProcess) -> list[dict[str, Any]]:
    out = []
    for line in srv.log_path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def events_named(srv: HangarProcess, event: str, operation: str | None = None) -> list[dict[str, Any]]:
    return [e for e in log_events(srv)
            if e.get("event") == event and (operation is None or e.get("operation") == operation)]


def test_scan_of_sources_logs_a_line_per_source_and_a_summary(
    srv: HangarProcess, client: httpx.Client, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_def(a, "pa1", math_def())
    write_def(a, "pa2", math_def())
    write_def(b, "pb1", math_def())
    sa = register(client, "filesystem", enabled=False, path=str(a), require_approval=True)
    sb = register(client, "filesystem", enabled=False, path=str(b), require_approval=True)

    r = client.post("/api/discovery/scan", json={"source_ids": [sa, sb]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(s["source_id"], s["providers_found"], s["new"]) for s in body["sources"]] == [(sa, 2, 2), (sb, 1, 1)]
    assert body["providers_found"] == 3 and body["new"] == 3 and body["failed"] == 0
    items = events_named(srv, "progress_item", "discovery_scan")
    assert [(e["item"], e["found"], e["new"]) for e in items[-2:]] == [(sa, 2, 2), (sb, 1, 1)]
    done = events_named(srv, "progress_done", "discovery_scan")[-1]
    assert done["done"] == done["total"] == 2 and done["new"] == 3 and done["elapsed_s"] >= 0
    assert client.post("/api/discovery/scan", json={"source_ids": ["nope"]}).status_code == 422

    # The CLI scans one source at a time over HTTP: a line per source, a summary, a table.
    r2 = subprocess.run([sys.executable, "-m", "hangar.cli", "discovery", "scan", sa, sb, "--url", srv.base],
                        capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0, r2.stderr
    per_source = [ln for ln in r2.stderr.splitlines() if "item=" in ln]
    assert len(per_source) == 2 and f"item={sa} found=2 new=0" in per_source[0]  # seen before: not new
    assert any(ln.startswith("discovery_scan done: 2/2 in ") for ln in r2.stderr.splitlines())
    assert "2 sources scanned in " in r2.stdout and "3 found, 0 new, 0 failed" in r2.stdout
    cli = [sys.executable, "-m", "hangar.cli", "discovery"]
    listed = subprocess.run([*cli, "ls", "--json", "--url", srv.base], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and {sa, sb} <= {s["source_id"] for s in json.loads(listed.stdout)["sources"]}
    refused = subprocess.run([*cli, "scan", "nope", "--url", srv.base], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "not found" in refused.stderr.lower(), refused.stderr
    down = subprocess.run([*cli, "scan", "--url", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert down.returncode == 2 and "cannot reach Hangar" in down.stderr
    # Rescans saw nothing new; the server logged one line per source scan.
    scanned = [e for e in events_named(srv, "discovery_scanned") if e["source_id"] in (sa, sb)]
    assert [(e["found"], e["new"]) for e in scanned] == [(2, 2), (1, 1), (2, 0), (1, 0)]


def test_bulk_workload_operation_logs_progress_and_its_events_count(
    srv: HangarProcess, client: httpx.Client
) -> None:
    names = [f"bulk{i}" for i in range(3)]
    for n in names:
        assert client.post("/api/v1beta/workloads", json={"name": n, "image": f"cmd://{sys.executable}",
                                                          "cmd_arguments": ["-c", "pass"]}).status_code == 201
    r = client.post("/api/v1beta/workloads/stop", json={"names": names})
    assert r.status_code == 202
    op = r.headers["x-hangar-operation"]
    assert wait_until(lambda: any(e.get("operation_id") == op for e in events_named(srv, "progress_done")), 20)
    [done] = [e for e in events_named(srv, "progress_done") if e.get("operation_id") == op]
    assert done["operation"] == "workloads_stop" and done["done"] == done["total"] == 3 and done["done"] == 3
    # Any replica can tell how far the operation came from its recorded outcomes.
    page = client.get("/api/events", params={"event_type": "WorkloadOperationCompleted", "limit": 100}).json()
    mine = [e for e in page["events"] if e.get("operation_id") == op]
    assert sorted(e["done"] for e in mine) == [1, 2, 3] and {e["total"] for e in mine} == {3}
    loc = r.headers["location"]
    assert loc == f"/api/v1beta/workloads/operations/{op}"
    body = client.get(loc).json()
    assert body["state"] == "completed" and body["done"] == body["total"] == 3 and body["failed"] == 0
    assert body["outcomes"] == {n: "done" for n in names} and body["finished_at"] >= body["started_at"]
    assert client.get("/api/v1beta/workloads/operations/nope").status_code == 404

    # A replica that did not run it (here: a second server on the same log) reports the same.
    other = HangarProcess(srv.workdir / "other", config=srv.config, db_url=srv.db_url)
    other.workdir.mkdir(exist_ok=True)
    srv.stop()  # one server per SQLite file
    try:
        other.start()
        with other.client() as c2:
            assert c2.get(loc).json() == body
    finally:
        other.stop()
        srv.start()


def test_config_reload_of_many_providers_logs_progress(srv: HangarProcess, client: httpx.Client) -> None:
    mark = new_mark()
    tree = {"providers": {f"cfg{i}": fixture_entry(mark) for i in range(12)},
            "mcp": {"discover_on_register": False}}
    write_yaml(srv.config, tree)
    r = client.post("/api/config/reload", json={})
    assert r.status_code == 200 and r.json()["result"]["success"] is True, r.text
    done = events_named(srv, "progress_done", "config_apply")[-1]
    assert done["done"] == done["total"] == 12 and done["applied"] == 12 and done["trigger"]
    steps = {e["done"] for e in events_named(srv, "progress", "config_apply")}
    assert {2, 3, 4, 5, 6, 8, 9, 10, 11} <= steps  # each tenth of 12 (and maybe a line a second)
