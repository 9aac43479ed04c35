"""Discovery sources (one module per type) and the checks that vet what they find.

``backends()`` gives the scanner of each source type, as the application's discovery service
expects them: ``scan(config) -> list[Candidate]`` and ``signature(config)`` (a cheap change
detector, or None for sources that are only scanned on a schedule).
"""

from __future__ import annotations

from typing import Any

from hangar.discovery.definition import SourceUnavailableError
from hangar.discovery.docker import DockerScanner
from hangar.discovery.entrypoint import EntrypointScanner
from hangar.discovery.filesystem import FilesystemScanner
from hangar.discovery.kubernetes import KubernetesScanner
from hangar.discovery.vetting import EnvironmentChecker

__all__ = ["EnvironmentChecker", "SourceUnavailableError", "backends"]


def backends() -> dict[str, Any]:
    return {
        "filesystem": FilesystemScanner(),
        "entrypoint": EntrypointScanner(),
        "docker": DockerScanner(),
        "kubernetes": KubernetesScanner(),
    }
