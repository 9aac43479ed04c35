"""Rotating backups of the configuration: ``{stem}.{UTC timestamp}.yaml``, the newest N kept."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from hangar.domain.errors import ValidationError


def backup_dir(config_path: str | None, configured: str | None) -> Path:
    if configured:
        return Path(configured)
    if config_path:
        return Path(config_path).resolve().parent / "backups"
    return Path("data") / "config-backups"


def _stamp() -> str:
    now = time.time()
    # Microseconds keep two backups in the same second apart and the names sortable.
    return datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")


def write_backup(directory: Path, stem: str, content: bytes, keep: int) -> tuple[Path, list[Path]]:
    """Write one backup atomically and delete the oldest beyond ``keep``; returns the new file
    and the ones removed. Files are private (0600): a config file may hold secrets."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create backup directory {directory}: {exc.strerror}") from None
    target = directory / f"{stem}.{_stamp()}.yaml"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ValidationError(f"cannot write backup {target}: {exc.strerror}") from None
    removed = []
    for old in list_backups(directory, stem)[:-keep]:
        old.unlink(missing_ok=True)
        removed.append(old)
    return target, removed


def list_backups(directory: Path, stem: str) -> list[Path]:
    """Oldest first (the timestamped names sort chronologically)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{stem}.*.yaml") if p.is_file() and _is_ours(p.name, stem))


def _is_ours(name: str, stem: str) -> bool:
    middle = name[len(stem) + 1 : -len(".yaml")]
    return len(middle) == 22 and middle[8] == "T" and middle.endswith("Z") and middle[:8].isdigit()
