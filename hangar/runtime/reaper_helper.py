"""The reaper's helper process: ``python -I -S reaper_helper.py <hangar-pid>``.

Reads ``+pgid`` / ``-pgid`` lines on stdin. On EOF (Hangar exited) or SIGTERM (its parent-death
signal), SIGKILLs every registered process group and exits. Stdlib only, by design: see
``reaper.py``. It forks nothing, so it never leaves zombies of its own; the groups it kills are
not its children and are reaped by their parent or by init.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _set_pdeathsig(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    groups: set[int] = set()

    def sweep(*_: object) -> None:
        for pgid in list(groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, sweep)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _set_pdeathsig(signal.SIGTERM)
    if len(argv) > 1 and os.getppid() != int(argv[1]):
        sweep()  # Hangar died before we could arm the parent-death signal
    pending = b""
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            sweep()
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            try:
                pgid = int(line[1:])
            except ValueError:
                continue
            if line[:1] == b"+":
                groups.add(pgid)
            elif line[:1] == b"-":
                groups.discard(pgid)


if __name__ == "__main__":
    main(sys.argv)
