"""Spawning and stopping provider processes as whole process groups.

Each provider runs in its own session (``start_new_session``), so its pid is also the pgid of
everything it forks unless a descendant deliberately moves out; stopping signals the group, not
the pid, so wrapper scripts (``npx``, ``uvx``, shells) do not leave their children behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from .errors import ProviderUnavailable

SAFE_BASE_ENV = ("PATH", "HOME", "LANG")
DEFAULT_STREAM_LIMIT = 16 * 1024 * 1024
_GROUP_POLL_S = 0.01
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


# Resolved once in the parent: the preexec hook runs between fork and exec, where loading a
# library (or anything that may take a lock another thread held at fork time) is unsafe.
_prctl = _load_prctl()


def pdeathsig_preexec(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child receive ``sig`` when its parent dies (Linux only)."""
    if _prctl is None:
        return None
    parent = os.getpid()
    prctl = _prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        # The parent may have died between fork and prctl; then no signal would ever come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def build_env(
    provider_env: Mapping[str, str] | None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Only the provider's own variables over a minimal base: Hangar's secrets never leak in."""
    source = os.environ if base is None else base
    env = {key: source[key] for key in SAFE_BASE_ENV if key in source}
    if provider_env:
        env.update(provider_env)
    return env


def _proc_stat(pid: str) -> tuple[str, int] | None:
    """(state, pgid) of a process from /proc, or None if it vanished meanwhile."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; fields resume after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def group_members(pgid: int, *, include_zombies: bool = False) -> list[int]:
    """Pids whose process group is ``pgid``, by scanning /proc (Linux)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(entry.name)
        if stat is None or stat[1] != pgid:
            continue
        if include_zombies or stat[0] != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process remains in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill(0) also succeeds for zombies, which an init that does not reap (some containers)
    # keeps around forever; only /proc tells a live member from a corpse.
    if not os.path.isdir("/proc/self"):
        return True
    return bool(group_members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    """Signal every process of the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member changed credentials (setuid helper); nothing more we can do from here.
        return True
    return True


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Reports the exit as soon as the child is reaped.

    ``asyncio.subprocess.Process.wait()`` only returns once every pipe is closed too, so a
    grandchild that inherited stderr would hide a crash for as long as it lives.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop, on_exit: Callable[[int], None]) -> None:
        super().__init__(limit=limit, loop=loop)
        self._on_exit_cb = on_exit
        self._process_transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # uvloop's process transport is not a subclass of asyncio.SubprocessTransport but has
        # the same interface, and Hangar serves on uvloop: duck-type, do not isinstance-check.
        self._process_transport = cast(asyncio.SubprocessTransport, transport)

    def process_exited(self) -> None:
        transport = self._process_transport
        rc = transport.get_returncode() if transport is not None else None
        super().process_exited()
        self._on_exit_cb(-1 if rc is None else rc)


class ProviderProcess:
    """A running provider process with its three pipes."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _ExitAwareProtocol,
        exited: asyncio.Future[int],
    ) -> None:
        self._transport = transport
        self.pid: int = transport.get_pid()
        self.pgid: int = self.pid
        assert protocol.stdin is not None and protocol.stdout is not None and protocol.stderr is not None
        self.stdin: asyncio.StreamWriter = protocol.stdin
        self.stdout: asyncio.StreamReader = protocol.stdout
        self.stderr: asyncio.StreamReader = protocol.stderr
        self.exited = exited

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None = None,
        limit: int = DEFAULT_STREAM_LIMIT,
        pdeathsig: bool = True,
    ) -> ProviderProcess:
        if not argv:
            raise ProviderUnavailable("empty command")
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()

        def on_exit(rc: int) -> None:
            if not exited.done():
                exited.set_result(rc)

        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitAwareProtocol(limit, loop, on_exit),
                *argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=pdeathsig_preexec() if pdeathsig else None,
            )
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise ProviderUnavailable(f"cannot spawn {argv[0]!r}: {exc}") from exc
        return cls(transport, protocol, exited)

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    def signal_group(self, sig: int) -> bool:
        return signal_group(self.pgid, sig)

    def close_stdin(self) -> None:
        if not self.stdin.is_closing():
            self.stdin.close()

    async def wait_exit(self, timeout_s: float) -> bool:
        if not self.exited.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), timeout_s)
            except TimeoutError:
                return False
        return True

    async def wait_group_gone(self, timeout_s: float) -> bool:
        """Leader reaped and no live member left, or False at the deadline."""
        deadline = time.monotonic() + timeout_s
        if not await self.wait_exit(timeout_s):
            return False
        while group_alive(self.pgid):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_GROUP_POLL_S)
        return True

    async def stop(
        self, grace_s: float = 2.0, term_timeout_s: float = 2.0, kill_timeout_s: float = 2.0
    ) -> None:
        """EOF on stdin, then SIGTERM to the group, then SIGKILL; returns once the group is gone."""
        self.close_stdin()
        # Even after a graceful leader exit, children it forked may still be running.
        if not (await self.wait_exit(grace_s) and not group_alive(self.pgid)):
            self.signal_group(signal.SIGTERM)
            if not await self.wait_group_gone(term_timeout_s):
                self.signal_group(signal.SIGKILL)
                await self.wait_group_gone(kill_timeout_s)
        self.close_pipes()

    def kill_group(self) -> None:
        self.signal_group(signal.SIGKILL)

    def close_pipes(self) -> None:
        """Release the pipes; only called once the child is reaped (or given up on)."""
        self._transport.close()
