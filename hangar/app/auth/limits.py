"""Per-principal token buckets and per-client lockouts (in memory, per instance; pure logic).

Time is passed in by the caller (``time.monotonic()``), which keeps both deterministic to test.
"""

from __future__ import annotations

import math


class TokenBuckets:
    """One bucket per principal: ``burst`` tokens, refilled at ``rate`` per second.

    Limiting per principal (not per command type) means one noisy client cannot throttle the
    others.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # principal → (tokens, last refill)

    def take(self, principal: str, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        tokens, last = self._buckets.get(principal, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[principal] = (tokens - 1.0, now)
            return 0.0
        self._buckets[principal] = (tokens, now)
        return (1.0 - tokens) / self.rate


class _Client:
    __slots__ = ("failures", "locked_until", "lockouts", "quiet_after")

    def __init__(self) -> None:
        self.failures: list[float] = []
        self.locked_until = 0.0
        self.lockouts = 0
        self.quiet_after = 0.0


class Lockouts:
    """Failed authentications per client address.

    ``max_failures`` failures within ``window_s`` lock the client out for ``lockout_s``; every
    further lockout doubles the period (up to ``max_lockout_s``). The doubling is forgotten once
    the client has stayed quiet for ``max_lockout_s`` after its last lockout ended.
    """

    MAX_TRACKED = 10_000

    def __init__(self, max_failures: int, window_s: float, lockout_s: float, max_lockout_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_lockout_s = max(max_lockout_s, lockout_s)
        self._clients: dict[str, _Client] = {}

    def retry_after(self, client: str, now: float) -> float:
        """Seconds the client must still wait (0.0: not locked out)."""
        c = self._clients.get(client)
        if c is None or c.locked_until <= now:
            return 0.0
        return c.locked_until - now

    def failure(self, client: str, now: float) -> tuple[int, float] | None:
        """Record a failure; returns (lockout count, period) when it locks the client out."""
        c = self._clients.get(client)
        if c is None:
            if len(self._clients) >= self.MAX_TRACKED:
                self._sweep(now)
            c = self._clients[client] = _Client()
        if c.lockouts and now >= c.quiet_after:
            c.lockouts = 0
        cutoff = now - self.window_s
        c.failures = [t for t in c.failures if t > cutoff]
        c.failures.append(now)
        if len(c.failures) < self.max_failures:
            return None
        c.failures = []
        c.lockouts += 1
        period = min(self.max_lockout_s, self.lockout_s * math.pow(2, c.lockouts - 1))
        c.locked_until = now + period
        c.quiet_after = c.locked_until + self.max_lockout_s
        return c.lockouts, period

    def _sweep(self, now: float) -> None:
        # Under a spray from many addresses, forget the ones with nothing left to remember.
        cutoff = now - self.window_s
        for key in [k for k, c in self._clients.items()
                    if c.locked_until <= now and now >= c.quiet_after and all(t <= cutoff for t in c.failures)]:
            del self._clients[key]
        if len(self._clients) >= self.MAX_TRACKED:
            oldest = sorted(self._clients, key=lambda k: self._clients[k].locked_until)[: self.MAX_TRACKED // 10]
            for key in oldest:
                del self._clients[key]
