"""Filesystem source: a directory of provider definitions, one per file.

Files matching ``config.pattern`` (default ``*.yaml``; several patterns may be separated by
commas) are read as YAML (JSON is YAML too) in the ``providers.d/`` format described in
``hangar.discovery.definition``. Changes are noticed by polling the files' sizes and mtimes
(``signature``), which needs no inotify and works the same on every filesystem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from pathlib import Path

import yaml

from hangar.config.discovery_sources import FilesystemConfig
from hangar.discovery.definition import SourceUnavailableError, parse_definition
from hangar.domain.discovery_events import Candidate


def _files(cfg: FilesystemConfig) -> list[Path]:
    root = Path(cfg.path)
    if not root.is_dir():
        raise SourceUnavailableError(f"directory not found: {cfg.path}")
    found: set[Path] = set()
    for pattern in (p.strip() for p in cfg.pattern.split(",")):
        if pattern:
            found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def read_definition_file(path: Path) -> Candidate | None:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        return Candidate(name=path.stem, origin=str(path), errors=[f"cannot read file: {exc}"])
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        return Candidate(name=path.stem, origin=str(path), errors=[f"not valid YAML/JSON: {first}"])
    return parse_definition(data, path.stem, str(path))


class FilesystemScanner:
    async def scan(self, config: FilesystemConfig) -> list[Candidate]:
        return await asyncio.to_thread(self._scan, config)

    def _scan(self, config: FilesystemConfig) -> list[Candidate]:
        out = []
        for path in _files(config):
            candidate = read_definition_file(path)
            if candidate is not None:
                out.append(candidate)
        return out

    def signature(self, config: FilesystemConfig) -> Hashable:
        """Cheap to compute; differs whenever a matching file is added, removed or rewritten."""
        try:
            files = _files(config)
        except SourceUnavailableError:
            return ("missing",)
        sig = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            sig.append((f.name, st.st_mtime_ns, st.st_size))
        return tuple(sig)
