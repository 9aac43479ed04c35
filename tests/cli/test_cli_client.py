"""The everyday CLI against a real server: each subcommand's happy path and its error path.

Commands run in-process through ``hangar.cli.main`` (stdout is not a terminal here, so tables are
plain tab-separated lines); the two that follow a stream until Ctrl-C run as subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO

import pytest

from hangar.cli import main
from tests.support import STDIO_FIXTURE, HangarProcess, free_port

CONFIG = f"""
providers:
  math:
    mode: subprocess
    command: [{sys.executable}, -m, hangar.examples.math_server]
  fx:
    mode: subprocess
    command: [{sys.executable}, {STDIO_FIXTURE}]
groups:
  pool:
    strategy: round_robin
    members: [{{id: math}}]
"""


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return CONFIG


@pytest.fixture(scope="module")
def url(hangar: HangarProcess) -> str:
    return hangar.base


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv[:2], "--url", url, *argv[2:]] if argv[0] in ("providers", "groups", "keys", "events")
                else [argv[0], "--url", url, *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def rows(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.strip().splitlines()[1:]]


def test_providers_ls_show_start_stop_restart(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, url, "providers", "ls")
    assert code == 0 and out.splitlines()[0].startswith("ID\tSTATE")
    assert {r[0]: r[1] for r in rows(out)} == {"fx": "cold", "math": "cold"}

    code, out, _ = run(capsys, url, "providers", "start", "math")
    assert code == 0 and out.startswith("math: ready") and "5 tools" in out
    code, out, _ = run(capsys, url, "providers", "show", "math", "--json")
    assert code == 0 and json.loads(out)["state"] == "ready"
    code, out, _ = run(capsys, url, "providers", "show", "math")
    assert "state" in out and "ready" in out and "add" in out
    code, out, _ = run(capsys, url, "providers", "ls", "--state", "ready")
    assert [r[0] for r in rows(out)] == ["math"]
    code, out, _ = run(capsys, url, "providers", "restart", "math")
    assert code == 0 and out.startswith("math: ready")
    code, out, _ = run(capsys, url, "providers", "stop", "math", "--reason", "cli-test")
    assert code == 0 and out.strip() == "math: cold (cli-test)"


@pytest.mark.parametrize("sub", ["show", "start", "stop", "restart", "rm", "logs"])
def test_unknown_provider_exits_1_with_the_contract_message(capsys: pytest.CaptureFixture[str], url: str,
                                                            sub: str) -> None:
    code, out, err = run(capsys, url, "providers", sub, "ghost")
    assert code == 1 and out == ""
    assert err.strip() == "hangar: Provider 'ghost' not found (404)"


def test_server_down_exits_2_with_a_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for argv in (["status"], ["providers", "ls"], ["groups", "ls"], ["keys", "ls"], ["call", "m", "t"]):
        code, out, err = run(capsys, dead, *argv)
        assert code == 2 and out == ""
        assert err.startswith(f"hangar: cannot reach Hangar at {dead}") and "hangar serve" in err


def test_call_with_pairs_and_json(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, url, "call", "math", "add", "a=2", "b=3")
    assert code == 0 and out.strip() == "5.0"
    code, out, _ = run(capsys, url, "call", "math", "multiply", '{"a": 4, "b": 2.5}', "--json")
    body = json.loads(out)
    assert code == 0 and body["result"][0]["text"] == "10.0" and body["is_error"] is False
    code, out, _ = run(capsys, url, "call", "pool", "add", "a=1", "b=1", "--group")
    assert code == 0 and out.strip() == "2.0"
    # Schema violations are the server's 422, unknown targets its 404: both exit 1.
    code, _, err = run(capsys, url, "call", "math", "add", "a=x")
    assert code == 1 and "(422)" in err
    code, _, err = run(capsys, url, "call", "ghost", "add", "a=1")
    assert code == 1 and err.strip() == "hangar: Provider 'ghost' not found (404)"
    code, _, err = run(capsys, url, "call", "math", "add", "oops")
    assert code == 2 and "not key=value" in err


def test_groups_ls_and_show(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, url, "groups", "ls")
    assert code == 0 and rows(out)[0][0] == "pool" and rows(out)[0][2] == "round_robin"
    code, out, _ = run(capsys, url, "groups", "show", "pool")
    assert code == 0 and "round_robin" in out and "MEMBER" in out and "math" in out
    code, _, err = run(capsys, url, "groups", "show", "nope")
    assert code == 1 and "nope" in err and "(404)" in err


def test_keys_create_ls_revoke(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, url, "keys", "create", "--principal", "ci-bot")
    raw = out.strip()
    assert code == 0 and len(raw) > 20 and "\n" not in raw and "cannot be shown again" in err
    code, out, _ = run(capsys, url, "keys", "ls", "ci-bot", "--json")
    keys = json.loads(out)["keys"]
    assert code == 0 and len(keys) == 1 and keys[0]["status"] == "active" and raw not in out
    code, out, _ = run(capsys, url, "keys", "revoke", keys[0]["key_id"], "--reason", "rotated")
    assert code == 0 and out.strip() == f"{keys[0]['key_id']}: revoked"
    code, out, _ = run(capsys, url, "keys", "ls")
    assert code == 0 and all(r[0] != keys[0]["key_id"] for r in rows(out))
    code, out, _ = run(capsys, url, "keys", "ls", "--all")
    assert any(r[0] == keys[0]["key_id"] and r[3] == "revoked" for r in rows(out))
    code, _, err = run(capsys, url, "keys", "revoke", "no-such-key")
    assert code == 1 and "(404)" in err


def test_status_and_version(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, url, "status")
    assert code == 0 and "ready" in out and "providers" in out
    code, out, _ = run(capsys, url, "status", "--json")
    assert code == 0 and json.loads(out)["total_providers"] == 2
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("hangar ")


@pytest.fixture
def spawn(url: str) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def start_cli(spawn: list[subprocess.Popen[str]], *argv: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-m", "hangar.cli", *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    spawn.append(p)
    return p


def read_until(stream: IO[str], needle: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not seen in {seen!r}")


def test_events_tail_filters_and_logs_follow(capsys: pytest.CaptureFixture[str], url: str,
                                             spawn: list[subprocess.Popen[str]]) -> None:
    tail = start_cli(spawn, "events", "tail", "--url", url, "--type", "ProviderStateChanged",
                     "--provider", "fx")
    follow = start_cli(spawn, "providers", "logs", "fx", "-f", "--url", url)
    time.sleep(1.0)  # both connected (a second is generous even under load)
    assert run(capsys, url, "call", "math", "add", "a=1", "b=2")[0] == 0  # filtered out by both
    assert run(capsys, url, "call", "fx", "stderr_line", "text=hello-from-cli")[0] == 0
    seen = read_until(tail.stdout, "ready")  # type: ignore[arg-type]
    assert "ProviderStateChanged" in seen and "math" not in seen
    assert "hello-from-cli" in read_until(follow.stdout, "hello-from-cli")  # type: ignore[arg-type]

    # Error paths: an unknown provider's logs and a server that is down.
    code, _, err = run(capsys, url, "providers", "logs", "ghost", "-f")
    assert code == 1 and "Provider 'ghost' not found" in err
    dead = start_cli(spawn, "events", "tail", "--url", f"http://127.0.0.1:{free_port()}")
    assert dead.wait(15) == 2 and "cannot reach Hangar" in dead.stderr.read()  # type: ignore[union-attr]
