"""The README, tried as on a fresh clone: ``make serve`` listening on the port its config file
names (no PORT given), then the tour's shell block run verbatim and each step's output checked.

Reuses the already-built ``.venv`` (``make -o`` skips the install step) so it stays fast.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.discovery.conftest import assert_envelope
from tests.support import REPO, free_port

README = REPO / "README.md"


def tour_steps() -> list[str]:
    text = README.read_text()
    block = text.split("## A 60-second tour", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    steps: list[list[str]] = []
    for line in block.splitlines():
        if line.startswith("# "):
            steps.append([])
        elif line.strip() and steps:
            steps[-1].append(line)
    return ["\n".join(s) for s in steps]


# What each step of the tour must print, in order (one list per "# comment" section).
EXPECTED: list[list[str]] = [
    ['"status":"ready"'],
    ['"provider_id":"math"', '"mode":"subprocess"'],  # started once at registration: any state
    ['"text":"5.0"', '"is_error":false'],
    ['"name":"add"', '"circuit_breaker_state"', '"logs":['],
    ['"history":[', '"total":'],
    ['{"provider_id":"math2","created":true}', '"status_code":422', "idle_tt1_s"],
    ["ID\tSTATE", "math\tready", "42.0"],
    ['"event_type":"ProviderStateChanged"', '"stopped":"math"', '"reason":"tour"'],
    ['"total_providers":3', '"openapi":"3.1.0"'],
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "hangar").exists():
        pytest.skip("the hangar script is not installed in this interpreter's environment")
    work = tmp_path_factory.mktemp("readme")
    port = free_port()
    (work / "hangar.yaml").write_text((REPO / "config" / "hangar.yaml").read_text()
                                      .replace("port: 8000", f"port: {port}", 1))
    shutil.copytree(REPO / "config" / "catalog", work / "catalog")
    log = work / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["make", "-o", f"{venv}/.runtime", "serve", f"VENV={venv}", f"CONFIG={work / 'hangar.yaml'}",
             f"DB=sqlite+aiosqlite:///{work / 'hangar.db'}"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if k not in ("HANGAR_DB_URL", "HANGAR_URL", "MAKEFLAGS")},
        )
    try:
        deadline = time.monotonic() + 90
        while "/ui" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield port, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def api(served: tuple[int, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{served[0]}", timeout=30) as client:
        yield client


def test_make_serve_honours_the_config_port_and_prints_the_urls(served: tuple[int, str]) -> None:
    port, log = served
    for what in ("applying migrations", f"dashboard  http://127.0.0.1:{port}/ui",
                 f"MCP        http://127.0.0.1:{port}/mcp", f"API docs   http://127.0.0.1:{port}/schema/swagger"):
        assert what in log, log
    live = httpx.get(f"http://127.0.0.1:{port}/health/live")
    assert live.status_code == 200 and live.text.endswith("\n")


def test_the_tour_runs_verbatim(served: tuple[int, str]) -> None:
    port, _ = served
    steps = tour_steps()
    assert len(steps) == len(EXPECTED), steps
    script = "\n".join(f"echo '@@@ {i}'\n{step.replace('localhost:8000', f'localhost:{port}')}"
                       for i, step in enumerate(steps))
    env = {**os.environ, "HANGAR_URL": f"http://127.0.0.1:{port}"}
    res = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    outputs = re.split(r"^@@@ \d+\n", res.stdout, flags=re.M)[1:]
    assert len(outputs) == len(steps), res.stdout
    for i, (out, wanted) in enumerate(zip(outputs, EXPECTED, strict=True)):
        for w in wanted:
            assert w in out, f"step {i} ({steps[i].splitlines()[0]!r}) lacks {w!r}:\n{out}"
        # Every JSON answer ends with a newline, so no two answers run together.
        assert "}{" not in out, f"step {i}: {out}"


def test_probes_answer_and_json_ends_with_a_newline(api: httpx.Client) -> None:
    live = api.get("/health/live")
    ready = api.get("/health/ready")
    assert live.status_code == 200 and live.json() == {"status": "ok", "checks": {}}
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": True, "replayed": True}
    for r in (live, ready, api.get("/api/providers"), api.get("/api/providers/ghost"),
              api.post("/api/providers", content=b"{")):
        assert r.text.endswith("}\n") and r.text.count("\n") == 1, r.text
        assert int(r.headers["content-length"]) == len(r.content)


def test_discovery_sources_take_the_same_names_as_the_config_file(api: httpx.Client, tmp_path: Path) -> None:
    for i, body in enumerate(({"source_type": "filesystem"}, {"type": "filesystem"})):
        r = api.post("/api/discovery/sources", json={**body, "source_id": f"fs{i}", "mode": "additive",
                                                     "enabled": False, "config": {"path": str(tmp_path)}})
        assert r.status_code == 201, r.text
        assert api.get(f"/api/discovery/sources/fs{i}").json()["source_type"] == "filesystem"
    assert "disagree" in assert_envelope(api.post("/api/discovery/sources", json={
        "source_type": "filesystem", "type": "docker", "mode": "additive"}), 422)["message"]
    assert "source_type" in assert_envelope(api.post("/api/discovery/sources", json={"mode": "additive"}),
                                            422)["message"]
