"""Calling a tool through a group: balancing, failover and the group's circuit breaker.

Each attempt is an ordinary ``InvokeTool`` handled by the provider invoker with ``group_id`` set
and the group command's metadata (so its events name the group call as their cause): the
member's own breaker, health, history and tool policies behave exactly as for a direct call. The
group adds:

* the **order** of members (the group's strategy, over members in rotation; dead members only
  as a last resort),
* **failover**: a retryable failure (``ProviderError``, ``ProviderTimeoutError``,
  ``ProviderUnavailableError``, which includes ``CircuitOpenError``) moves on to the next
  member while the caller's deadline lasts; a tool's own ``isError`` result is an answer, not a
  failure, and is returned as is (retrying it elsewhere would repeat a non-idempotent action
  and blame a healthy member for bad input),
* the **group breaker**: consecutive calls that no member could serve open it. While it is open
  a call still goes through when some member is healthy (only to healthy members), and such a
  success closes it; only with no healthy member does it refuse fast (``CircuitOpenError``,
  ``Retry-After``) until its reset timeout admits one probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import msgspec
import structlog

from hangar.app.bus import CommandBus, CommandContext, follow
from hangar.app.codec import EventMetadata
from hangar.app.invoke import InvokeResult, InvokeTool
from hangar.app.projections.groups import GroupsProjection, GroupView
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository
from hangar.app.runtime_facts import ProviderRuntime
from hangar.config.schema import RuntimeConfig
from hangar.domain.balancing import Candidate, Strategy, make_strategy
from hangar.domain.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from hangar.domain.errors import (
    CircuitOpenError,
    GroupNotFoundError,
    GroupToolNotFoundError,
    GroupUnavailableError,
    HangarError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ToolNotFoundError,
)
from hangar.domain.group import Group, MemberStatus, in_rotation, is_healthy

log = structlog.get_logger("hangar.groups")

InvokeFn = Callable[[InvokeTool, CommandContext, EventMetadata], Awaitable[InvokeResult]]
RETRYABLE = (ProviderError, ProviderTimeoutError, ProviderUnavailableError)
# A member that lacks the tool, or was deleted a moment ago, is skipped without blame.
SKIPPABLE = (ToolNotFoundError, ProviderNotFoundError)
MIN_ATTEMPT_S = 0.01


class InvokeGroupTool(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    tool: str
    arguments: dict[str, Any] = {}
    timeout_s: float | None = None
    """The caller's deadline for the whole call, failovers included."""


class RebalanceGroup(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str


class RecordGroupCircuit(msgspec.Struct, frozen=True, kw_only=True):
    """A runtime fact: the group's breaker moved (sent by the router itself)."""

    group_id: str
    state: str
    failures: int
    reason: str


class GroupInvokeResult(InvokeResult, kw_only=True):
    """The provider invoke route's shape, plus which group served it and how many tries it took."""

    group_id: str
    attempts: int


class GroupBreakerStatus(msgspec.Struct, frozen=True, kw_only=True):
    failure_threshold: int
    reset_timeout_s: float
    failures: int


class _Runtime:
    """A group's live routing state; never persisted (its breaker's transitions are recorded)."""

    def __init__(self, strategy: str, breaker: CircuitBreaker, rng: random.Random | None) -> None:
        self.strategy_name = strategy
        self.strategy: Strategy = make_strategy(strategy, rng)
        self.breaker = breaker
        self.record_lock = asyncio.Lock()


class GroupRouter:
    def __init__(
        self,
        invoke: InvokeFn,
        repo: Repository[Group],
        groups: GroupsProjection,
        providers: ProvidersProjection,
        runtime: ProviderRuntime,
        cfg: RuntimeConfig,
        bus: CommandBus,
        rng: random.Random | None = None,
    ) -> None:
        self._invoke = invoke
        self._repo = repo
        self._groups = groups
        self._providers = providers
        self._runtime = runtime
        self._cfg = cfg
        self._bus = bus
        self._rng = rng
        self._runtimes: dict[str, _Runtime] = {}
        self._pending: dict[str, int] = {}

    def register_with(self, bus: CommandBus) -> None:
        bus.register(InvokeGroupTool, self.invoke)
        bus.register(RebalanceGroup, self.rebalance)
        bus.register(RecordGroupCircuit, self._record_circuit)

    # --- member status ------------------------------------------------------------------------

    def status(self, provider_id: str, now: float | None = None) -> MemberStatus | None:
        """A member's health as routing sees it: the provider's recorded state and its live
        breaker (an open breaker whose reset timeout has passed reads ``half_open``: it may take
        a probe)."""
        view = self._providers.get(provider_id)
        if view is None:
            return None
        live = self._runtime.status(provider_id)
        return MemberStatus(state=view.state, breaker_state=live.breaker if live is not None else CLOSED)

    def statuses(self, provider_ids: Iterable[str]) -> Mapping[str, MemberStatus]:
        now = time.monotonic()
        out: dict[str, MemberStatus] = {}
        for pid in provider_ids:
            st = self.status(pid, now)
            if st is not None:
                out[pid] = st
        return out

    def inflight(self, provider_id: str) -> int:
        live = self._runtime.status(provider_id)
        # The supervisor counts calls already talking to the provider; ``_pending`` also counts
        # group calls still starting it. Either is a lower bound of the real load.
        return max(live.inflight if live is not None else 0, self._pending.get(provider_id, 0))

    # --- runtime state ------------------------------------------------------------------------

    def runtime(self, view: GroupView) -> _Runtime:
        spec = view.spec
        threshold = spec.failure_threshold or self._cfg.group_breaker_failure_threshold
        reset = spec.reset_timeout_s or self._cfg.group_breaker_reset_timeout_s
        rt = self._runtimes.get(view.group_id)
        if rt is None:
            rt = self._runtimes[view.group_id] = _Runtime(spec.strategy, CircuitBreaker(threshold, reset), self._rng)
        if rt.strategy_name != spec.strategy:
            rt.strategy_name, rt.strategy = spec.strategy, make_strategy(spec.strategy, self._rng)
        rt.breaker.failure_threshold, rt.breaker.reset_timeout_s = threshold, reset
        return rt

    def breaker_state(self, group_id: str) -> str | None:
        rt = self._runtimes.get(group_id)
        return rt.breaker.state if rt is not None else None

    def breaker_status(self, view: GroupView) -> GroupBreakerStatus:
        """Read only (queries): a group never called has a fresh breaker's numbers."""
        spec = view.spec
        rt = self._runtimes.get(view.group_id)
        return GroupBreakerStatus(
            failure_threshold=spec.failure_threshold or self._cfg.group_breaker_failure_threshold,
            reset_timeout_s=spec.reset_timeout_s or self._cfg.group_breaker_reset_timeout_s,
            failures=rt.breaker.failures if rt is not None else 0,
        )

    def routing_state(self) -> dict[str, tuple[str, str, int]]:
        """Every group's live routing state (strategy, breaker, failures): for diagnostics."""
        return {gid: (rt.strategy_name, rt.breaker.state, rt.breaker.failures) for gid, rt in self._runtimes.items()}

    def forget(self, group_id: str) -> None:
        self._runtimes.pop(group_id, None)

    # --- invoking -----------------------------------------------------------------------------

    def _has_tool(self, provider_id: str, tool: str) -> bool | None:
        """True/False when the member's tools are known, None when it must be asked (cold, never
        started, nothing predefined)."""
        view = self._providers.get(provider_id)
        if view is None:
            return False
        if not view.tools_discovered and view.spec.tools is None:
            return None
        return any(t.name == tool for t in view.visible_tools)

    async def invoke(self, cmd: InvokeGroupTool, ctx: CommandContext, meta: EventMetadata) -> GroupInvokeResult:
        view = self._groups.get(cmd.group_id)
        if view is None:
            raise GroupNotFoundError(cmd.group_id)
        if not view.members:
            raise GroupUnavailableError(f"Group '{cmd.group_id}' has no members")
        started = time.perf_counter()
        now = time.monotonic()
        deadline = now + (cmd.timeout_s or max(self._call_timeout(m.provider_id) for m in view.members))
        rt = self.runtime(view)
        offering = [m for m in view.members if self._has_tool(m.provider_id, cmd.tool) is not False]
        if not offering:
            raise GroupToolNotFoundError(cmd.group_id, cmd.tool)
        statuses = self.statuses(m.provider_id for m in offering)
        healthy = {pid for pid, st in statuses.items() if is_healthy(st)}
        only_healthy = probe = False
        if rt.breaker.state != CLOSED:
            # The peer's failure to avoid: an open group breaker must not refuse a call that a
            # healthy member could serve.
            if healthy:
                only_healthy = True
            elif not rt.breaker.allow(now):
                raise CircuitOpenError(f"group:{cmd.group_id}", rt.breaker.retry_after(now))
            else:
                probe = True
                await self._record_breaker(cmd.group_id, rt, "probe admitted", follow(ctx, meta))
        eligible = [m for m in offering if m.provider_id in statuses and (
            m.provider_id in healthy if only_healthy else in_rotation(statuses[m.provider_id]))]
        order = rt.strategy.order([
            Candidate(m.provider_id, m.weight, m.priority, self.inflight(m.provider_id)) for m in eligible
        ])
        if not only_healthy:
            # Dead members last: calling one restarts it, better than failing the call outright.
            order += [m.provider_id for m in offering
                      if m.provider_id in statuses and statuses[m.provider_id].state == "dead"
                      and statuses[m.provider_id].breaker_state != OPEN]
        child = follow(ctx, meta)
        try:
            return await self._attempt(cmd, child, meta, rt, order, deadline, started)
        except BaseException as exc:
            # A probe left unresolved would keep the breaker half-open, refusing everything, for
            # good. Bad arguments and the like mean the members answered: all a probe asks.
            if probe and rt.breaker.state == HALF_OPEN:
                answered = isinstance(exc, HangarError) and not isinstance(exc, RETRYABLE)
                if answered:
                    rt.breaker.success()
                else:
                    rt.breaker.failure(time.monotonic())
                if isinstance(exc, Exception):
                    await self._record_breaker(cmd.group_id, rt, "probe answered" if answered else "probe failed",
                                              child)
            raise

    async def _attempt(
        self, cmd: InvokeGroupTool, child: CommandContext, meta: EventMetadata, rt: _Runtime, order: list[str],
        deadline: float, started: float,
    ) -> GroupInvokeResult:
        attempts = 0
        last: HangarError | None = None
        blame = False
        for pid in order:
            remaining = deadline - time.monotonic()
            if remaining < MIN_ATTEMPT_S:
                break
            attempts += 1
            self._pending[pid] = self._pending.get(pid, 0) + 1
            try:
                res = await self._invoke(InvokeTool(
                    provider_id=pid, tool=cmd.tool, arguments=cmd.arguments,
                    timeout_s=min(remaining, self._call_timeout(pid)), group_id=cmd.group_id,
                ), child, meta)
            except RETRYABLE as exc:
                last, blame = exc, True
                log.info("group_failover", group_id=cmd.group_id, provider_id=pid, error=exc.message)
                continue
            except SKIPPABLE as exc:
                last = exc
                continue
            finally:
                left = self._pending.get(pid, 1) - 1
                if left:
                    self._pending[pid] = left
                else:
                    self._pending.pop(pid, None)
            if rt.breaker.state != CLOSED:
                rt.breaker.success()
                await self._record_breaker(cmd.group_id, rt, "member served", child)
            elif rt.breaker.failures:
                rt.breaker.success()
            return GroupInvokeResult(
                provider_id=res.provider_id, tool=res.tool, result=res.result, is_error=res.is_error,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                structured_content=res.structured_content, group_id=cmd.group_id, attempts=attempts,
            )
        if blame or not order:
            before = rt.breaker.state
            rt.breaker.failure(time.monotonic())
            if rt.breaker.state != before:
                await self._record_breaker(cmd.group_id, rt, last.message if last else "no member in rotation",
                                          child)
        if isinstance(last, ToolNotFoundError) and not blame:
            raise GroupToolNotFoundError(cmd.group_id, cmd.tool)
        if last is not None:
            raise last
        raise GroupUnavailableError(
            f"Group '{cmd.group_id}': no member could serve the call within its deadline"
            if order else f"Group '{cmd.group_id}': no member is in rotation"
        )

    def _call_timeout(self, provider_id: str) -> float:
        view = self._providers.get(provider_id)
        return view.spec.call_timeout_s if view is not None else 30.0

    async def _record_breaker(self, group_id: str, rt: _Runtime, reason: str, ctx: CommandContext) -> None:
        # Serialised per group and always recording the breaker's *current* state, so concurrent
        # calls cannot leave an older transition as the last word in the log.
        async with rt.record_lock:
            with contextlib.suppress(HangarError):
                await self._bus.execute(RecordGroupCircuit(
                    group_id=group_id, state=rt.breaker.state, failures=rt.breaker.failures, reason=reason,
                ), ctx)

    async def _record_circuit(self, cmd: RecordGroupCircuit, ctx: CommandContext, meta: EventMetadata) -> None:
        await self._repo.execute(
            cmd.group_id, lambda g: g.record_circuit(cmd.state, failures=cmd.failures, reason=cmd.reason), meta,
        )

    # --- rebalancing --------------------------------------------------------------------------

    async def rebalance(self, cmd: RebalanceGroup, ctx: CommandContext, meta: EventMetadata) -> list[str]:
        """Re-check every running member's health, put the ready ones back in rotation (their
        breakers are reset), reset the group's breaker and balancer, and record the outcome."""
        (await self._repo.check(cmd.group_id, ctx.if_match)).require()
        view = self._groups.get(cmd.group_id)
        members = [m.provider_id for m in view.members] if view else []
        running = self._runtime.statuses()
        checks = [self._runtime.check_health(pid) for pid in members if pid in running and running[pid].running]
        await asyncio.gather(*checks, return_exceptions=True)
        child = follow(ctx, meta)
        for pid in members:
            pv = self._providers.get(pid)
            live = self._runtime.status(pid)
            if pv is not None and pv.state == "ready" and live is not None and live.breaker != CLOSED:
                await self._runtime.reset_breaker(pid, child)
        if view is not None:
            rt = self.runtime(view)
            rt.breaker.reset()
            rt.strategy = make_strategy(rt.strategy_name, self._rng)
        statuses = self.statuses(members)
        rotation = [pid for pid in members if pid in statuses and in_rotation(statuses[pid])]
        await self._repo.execute(cmd.group_id, lambda g: g.rebalanced(rotation, statuses), meta)
        return rotation

    # --- background -----------------------------------------------------------------------------

    def warm(self, provider_id: str) -> None:
        """Start a member in the background (``auto_start`` groups)."""

        def failed(exc: HangarError) -> None:
            log.warning("group_member_autostart_failed", provider_id=provider_id, error=exc.message)

        self._runtime.spawn_start(provider_id, failed)

    async def close(self) -> None:
        return None
