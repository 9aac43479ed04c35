"""Helpers for tests that run Hangar as a real server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, body: str = "") -> Path:
    path.write_text(body or "providers: {}\n")
    return path


# Suites written before providers were discovered on registration test explicit lifecycles: their
# servers keep registered providers cold unless the config has an ``mcp:`` section of its own.
NO_DISCOVERY = "\nmcp: {discover_on_register: false}\n"


def keep_providers_cold(config: Path) -> None:
    text = config.read_text()
    if not any(line.startswith("mcp:") for line in text.splitlines()):
        config.write_text(text + NO_DISCOVERY)


class HangarProcess:
    """``hangar serve`` in a subprocess on a free port, with its own database and config."""

    def __init__(self, workdir: Path, config: Path | None = None, db_url: str | None = None,
                 env: dict[str, str] | None = None, discover: bool = False) -> None:
        self.workdir = workdir
        self.config = config or write_config(workdir / "hangar.yaml")
        self.db_url = db_url or f"sqlite+aiosqlite:///{workdir / 'hangar.db'}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.discover = discover
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"hangar-{self.port}.log"

    def start(self, timeout: float = 60.0) -> HangarProcess:
        if not self.discover:
            keep_providers_cold(self.config)
        env = {**os.environ, **self.env}
        env.pop("HANGAR_DB_URL", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hangar.cli", "serve", "--config", str(self.config),
             "--port", str(self.port), "--db", self.db_url],
            cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hangar exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(self.base + "/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"hangar did not become ready: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)


@contextmanager
def running(work: Path, config_text: str = "", **options: Any) -> Iterator[HangarProcess]:
    """A server in ``work`` started from ``config_text`` (``providers: {}`` when empty), stopped
    on leaving: the body of every suite's shared-server fixture."""
    cfg = work / "hangar.yaml"
    cfg.write_text(config_text or "providers: {}\n")
    proc = HangarProcess(work, config=cfg, **options).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def package_hangar(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, package_config: str
) -> Iterator[HangarProcess]:
    """One server for a whole test package whose modules touch disjoint data (start-up is the
    dearest part). A package's conftest binds it as its ``hangar`` and says its config with a
    package-scoped ``package_config`` fixture."""
    with running(Path(tmp_path_factory.mktemp(request.node.name.replace("/", "-"))), package_config) as proc:
        yield proc


STDIO_FIXTURE = REPO / "tests" / "fixtures" / "stdio_server.py"


def fixture_provider(provider_id: str, mark: str, **fields: object) -> dict[str, object]:
    """A create body for the SDK-built stdio fixture server, tagged so /proc can find it."""
    env = {"HANGAR_TEST_MARK": mark, **dict(fields.pop("env", {}) or {})}  # type: ignore[call-overload]
    return {"provider_id": provider_id, "mode": "subprocess",
            "command": [sys.executable, str(STDIO_FIXTURE)], "env": env, **fields}


def pids_with_mark(mark: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries ``HANGAR_TEST_MARK=mark``."""
    needle = f"HANGAR_TEST_MARK={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry))
    return found


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate: object, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
