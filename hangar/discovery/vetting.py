"""Checks of a candidate against the machine it would run on.

Schema and mode-specific rules are the domain's (``hangar.domain.discovery.candidate_spec``);
name collisions are the application's (it sees every provider and source). What is left needs
the outside world: does the command exist, does the Docker engine know the image.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from hangar.discovery.docker import docker_client
from hangar.domain.provider_spec import ProviderSpec


def command_problem(command: list[str]) -> str | None:
    exe = command[0]
    if "/" in exe:
        p = Path(exe)
        if not p.is_file():
            return f"command not found: {exe}"
        if not os.access(p, os.X_OK):
            return f"command is not executable: {exe}"
        return None
    if shutil.which(exe) is None:
        return f"command not found on PATH: {exe}"
    return None


def image_problem(image: str, base_url: str | None = None) -> str | None:
    from docker.errors import DockerException, ImageNotFound

    try:
        client = docker_client(base_url, 10)
    except DockerException as exc:
        return f"cannot verify image '{image}': Docker engine not reachable ({type(exc).__name__})"
    try:
        client.images.get(image)
        return None
    except ImageNotFound:
        return f"image not known to the Docker engine: {image}"
    except DockerException as exc:
        return f"cannot verify image '{image}': {type(exc).__name__}"
    finally:
        client.close()


class EnvironmentChecker:
    """Implements the application's ``CandidateChecker`` port."""

    def __init__(self, docker_base_url: str | None = None) -> None:
        self.docker_base_url = docker_base_url

    async def check(self, spec: ProviderSpec) -> list[str]:
        if spec.mode == "subprocess" and spec.command:
            problem = command_problem(spec.command)
        elif spec.mode == "docker" and spec.image:
            problem = await asyncio.to_thread(image_problem, spec.image, self.docker_base_url)
        else:
            problem = None
        return [problem] if problem else []
