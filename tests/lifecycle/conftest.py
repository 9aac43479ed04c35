from __future__ import annotations

import pytest

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
def hangar_config() -> str:
    return RUNTIME_CONFIG
