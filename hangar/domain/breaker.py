"""A circuit breaker as a pure state machine: time is passed in, decisions come out.

closed → open after ``failure_threshold`` consecutive failures; open → half_open once
``reset_timeout_s`` has passed, admitting one probe; the probe's outcome closes or re-opens it.
"""

from __future__ import annotations

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 30.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._probe_in_flight = False

    def allow(self, now: float) -> bool:
        """May a call go through now? Moving to half-open admits exactly one probe."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if now - self.opened_at < self.reset_timeout_s:
                return False
            self.state = HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def retry_after(self, now: float) -> float:
        return max(0.0, self.reset_timeout_s - (now - self.opened_at)) if self.state == OPEN else 0.0

    def success(self) -> None:
        self.failures = 0
        self._probe_in_flight = False
        self.state = CLOSED

    def failure(self, now: float) -> None:
        self._probe_in_flight = False
        self.failures += 1
        # A failed probe re-opens at once; a closed breaker tolerates up to the threshold.
        if self.state == HALF_OPEN or self.failures >= self.failure_threshold:
            self.state = OPEN
            self.opened_at = now

    def reset(self) -> None:
        self.success()
