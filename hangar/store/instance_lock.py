"""One Hangar per SQLite file.

SQLite is the one-machine embedded default: two servers on one file would each believe they own
every provider. The second is refused at start, naming the first. (PostgreSQL is the backend
for several replicas; there this lock is not taken.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .engine import backend_for, parse_url


class InstanceConflictError(RuntimeError):
    pass


class SingleInstanceLock:
    def __init__(self, url: str) -> None:
        parsed, _ = parse_url(url)
        self._path: Path | None = None
        if backend_for(parsed).is_sqlite and parsed.database:
            self._path = Path(parsed.database).resolve().with_name(Path(parsed.database).name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._path is None or self._fd is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            database = self._path.with_name(self._path.name.removesuffix(".lock"))
            raise InstanceConflictError(
                f"another Hangar (pid {holder}) is already serving {database}; one SQLite database "
                "serves one instance: stop it, choose another --db, or use PostgreSQL to run "
                "several replicas"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock
