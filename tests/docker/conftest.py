"""Docker-mode tests run against the real engine on this machine.

They skip (with the reason in the skip message) only when no engine answers; a missing test image
is built on the spot by ``tests/fixtures/docker/build_image.sh`` (seconds), and a failed build
fails the tests rather than hiding them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import uvloop
from docker.errors import NotFound

from hangar.runtime.docker_engine import LABEL_PROVIDER, ContainerSpec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
BUILD_SCRIPT = FIXTURES / "docker" / "build_image.sh"
IMAGE = os.environ.get("HANGAR_TEST_IMAGE", "hangar-test-python:latest")
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def _read_only_mounts() -> list[str]:
    """The repo (fixtures) and the venv (the ``mcp`` SDK), at the same paths, read-only."""
    mounts = [f"{REPO}:{REPO}:ro"]
    prefix = Path(sys.prefix).resolve()
    if not prefix.is_relative_to(REPO):
        mounts.append(f"{prefix}:{prefix}:ro")
    return mounts


def server_env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": f"{SITE_PACKAGES}:{FIXTURES}", "PYTHONDONTWRITEBYTECODE": "1", **extra}


def sdk_server_spec(*, env: dict[str, str] | None = None, volumes: list[str] | None = None,
                    **fields: Any) -> ContainerSpec:
    """The SDK-built stdio fixture server, run inside the test image."""
    return ContainerSpec(
        image=IMAGE,
        command=["python3", str(FIXTURES / "stdio_server.py")],
        env=server_env(**(env or {})),
        volumes=[*_read_only_mounts(), *(volumes or [])],
        **fields,
    )


def minimal_server_spec(**fields: Any) -> ContainerSpec:
    """The stdlib-only fixture server: starts in milliseconds, for tests about the container."""
    return ContainerSpec(
        image=IMAGE,
        command=["python3", "-S", str(FIXTURES / "minimal_stdio_server.py")],
        volumes=[*_read_only_mounts(), *fields.pop("volumes", [])],
        **fields,
    )


def docker_provider_body(provider_id: str, *, minimal: bool = False, **fields: Any) -> dict[str, Any]:
    """A REST create body for a ``mode: docker`` provider running the SDK fixture server (or the
    stdlib-only one, which starts faster)."""
    spec = minimal_server_spec() if minimal else sdk_server_spec(env=fields.pop("env", None))
    return {"provider_id": provider_id, "mode": "docker", "image": spec.image,
            "command": list(spec.command or []), "env": dict(spec.env),
            "volumes": [*spec.volumes, *fields.pop("volumes", [])], **fields}


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    if item.path.name == "test_docker_stream.py":
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


def _engine_problem() -> str | None:
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def docker_api() -> Iterator[docker.APIClient]:
    problem = _engine_problem()
    if problem is not None:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        pytest.skip(f"no Docker engine reachable at {host} ({problem}); start dockerd to run docker-mode tests")
    api = docker.APIClient(version="auto", timeout=30)
    try:
        api.inspect_image(IMAGE)
    except NotFound:
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=600,
                              check=False)
        if done.returncode != 0:
            pytest.fail(f"could not build {IMAGE}:\n{done.stdout}\n{done.stderr}")
    yield api
    api.close()


def containers_of(api: docker.APIClient, provider_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.containers(all=True, filters={"label": f"{LABEL_PROVIDER}={provider_id}"})
    return found
