from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess

# Short timers so that health, idle, backoff and breaker behaviour shows within seconds.
RUNTIME_CONFIG = """
runtime:
  health: {degraded_after: 1, dead_after: 2, timeout_s: 0.5}
  restart_backoff_initial_s: 0.2
  restart_backoff_max_s: 1.0
  max_restarts: 5
  breaker_failure_threshold: 2
  breaker_reset_timeout_s: 1.0
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("lifecycle"))
    cfg = work / "hangar.yaml"
    cfg.write_text(RUNTIME_CONFIG)
    proc = HangarProcess(work, config=cfg).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(server: HangarProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
