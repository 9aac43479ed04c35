"""Provider ownership across replicas: one process per provider, wherever the call arrives.

Each running provider is owned by one replica, the holder of its ``provider:{id}`` lease (taken
before a start, renewed with the owner's heartbeat, released after a stop). ``ClusterRuntime``
stands in front of this replica's supervisor with the same ``ProviderRuntime`` port:

* a start or a call for a provider nobody owns claims the lease and runs here;
* one owned by another live replica is forwarded to it (``RuntimeOp`` over the internal
  endpoint), so the owner's single process serves every replica's callers;
* a lease whose holder is gone (heartbeat expired, or it does not answer) is waited out, at most
  one lease TTL, and then claimed: the dead replica's processes died with it (its reaper), so
  the provider starts here and there are never two copies.

Invocation events are recorded by the replica that accepted the call (its ``Invoker``); only
the tool call itself travels, so a forwarded call is recorded once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandContext
from hangar.app.cluster import Coordination, Membership
from hangar.app.ports import CallOutcome, ProviderConnection
from hangar.domain.async_tasks import TERMINAL
from hangar.domain.errors import HangarError, ProviderUnavailableError

if TYPE_CHECKING:
    from hangar.app.runtime_facts import CallTicket, ProviderRuntime, ProviderStatus

log = structlog.get_logger("hangar.cluster")

PROVIDER_LEASE = "provider:"
INTERNAL_COMMANDS_PATH = "/internal/cluster/commands"
CLUSTER_TOKEN_HEADER = "x-hangar-cluster-token"

Op = Literal["start", "stop", "call", "request", "health", "reset_breaker", "deregister", "update", "wait_idle"]


class RuntimeOp(msgspec.Struct, frozen=True, kw_only=True):
    """One runtime command sent to the replica that owns the provider."""

    op: Op
    provider_id: str
    principal: str = "system"
    correlation_id: str = ""
    reason: str = ""
    tool: str = ""
    arguments: dict[str, Any] = {}
    timeout_s: float = 30.0
    method: str = ""
    """``request``: an MCP request forwarded as is (resources, prompts, completions)."""


class OpResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    ok: bool = True
    outcome: CallOutcome | None = None
    result: Any = None
    """``request``: the provider's JSON-RPC result."""


class Peers(Protocol):
    """Sends a ``RuntimeOp`` to another replica; raises the owner's ``HangarError`` as it was
    raised there, or ``PeerUnreachableError`` when the replica does not answer at all."""

    async def send(self, address: str, op: RuntimeOp) -> OpResult: ...

    async def close(self) -> None: ...


class PeerUnreachableError(ProviderUnavailableError):
    pass


def lease_name(provider_id: str) -> str:
    return PROVIDER_LEASE + provider_id


class _RemoteTicket:
    def __init__(self, runtime: ClusterRuntime, provider_id: str, ctx: CommandContext) -> None:
        self._runtime = runtime
        self._pid = provider_id
        self._ctx = ctx

    async def call(self, tool: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        result = await self._runtime.forward_call(self._pid, self._ctx, tool, arguments, timeout_s)
        if result.outcome is None:
            raise ProviderUnavailableError(f"Provider '{self._pid}': its owner answered without a result")
        return result.outcome

    async def settle(self) -> None:
        """The owner's breaker moved there, and the owner recorded it."""


class _RemoteConnection:
    """A provider running on another replica, for the requests ``/mcp`` forwards as they are
    (resource reads, prompt gets, completions): each goes to the owner as a ``request`` op.
    Only ``request`` is offered: starts, stops and tool calls have ops of their own."""

    def __init__(self, runtime: ClusterRuntime, provider_id: str, ctx: CommandContext) -> None:
        self._runtime = runtime
        self._pid = provider_id
        self._ctx = ctx

    @property
    def alive(self) -> bool:
        return True

    async def request(self, method: str, params: dict[str, Any] | None, timeout_s: float) -> Any:
        op = self._runtime._op("request", self._pid, self._ctx, method=method, arguments=params or {},
                               timeout_s=timeout_s)
        return (await self._runtime.forward(op)).result


class ClusterRuntime:
    """The ``ProviderRuntime`` of a replica in a cluster (see the module docstring)."""

    def __init__(
        self, local: ProviderRuntime, coord: Coordination, membership: Membership, peers: Peers,
        *, lease_ttl_s: float,
    ) -> None:
        self.local = local
        self._coord = coord
        self._membership = membership
        self._peers = peers
        self._ttl = lease_ttl_s
        self._me = membership.instance_id
        self._held: set[str] = set()
        # Where another replica's provider lives, remembered briefly so that a stream of calls
        # does not read the lease on every one of them.
        self._owners: dict[str, tuple[str, float]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # --- the read-only view: this replica's processes ---------------------------------------------

    def status(self, provider_id: str) -> ProviderStatus | None:
        return self.local.status(provider_id)

    def statuses(self) -> Mapping[str, ProviderStatus]:
        return self.local.statuses()

    # --- where a provider runs --------------------------------------------------------------------

    async def _claim_or_owner(self, provider_id: str, *, forwarded: bool) -> str | None:
        """None once this replica holds the lease; else the address of the live owner."""
        if provider_id in self._held:
            return None
        cached = self._owners.get(provider_id)
        if cached is not None and cached[1] > time.monotonic() and not forwarded:
            return cached[0]
        deadline = time.monotonic() + self._ttl + 1.0
        while True:
            lease = await self._coord.acquire(lease_name(provider_id), self._me, self._ttl)
            if lease is not None:
                self._held.add(provider_id)
                self._owners.pop(provider_id, None)
                return None
            current = await self._coord.lease(lease_name(provider_id))
            if current is None:
                continue
            address = self._membership.live.get(current.holder)
            if address is not None and current.holder != self._me:
                if forwarded:
                    # Never a second hop: the sender retries once the lease has settled.
                    raise ProviderUnavailableError(
                        f"Provider '{provider_id}' moved to another replica; retry")
                self._owners[provider_id] = (address, time.monotonic() + 1.0)
                return address
            # The holder is gone but its lease has not run out: wait for it, then claim.
            if time.monotonic() >= deadline:
                raise ProviderUnavailableError(
                    f"Provider '{provider_id}' is still leased to replica {current.holder}, which is gone")
            await asyncio.sleep(max(0.05, min(0.25, current.expires_at - time.time())))

    async def _owner_elsewhere(self, provider_id: str) -> str | None:
        """The live replica that owns the provider, unless that is this one (never claims)."""
        if provider_id in self._held:
            return None
        lease = await self._coord.lease(lease_name(provider_id))
        if lease is None or lease.holder == self._me or lease.expires_at <= time.time():
            return None
        return self._membership.live.get(lease.holder)

    async def _release(self, provider_id: str) -> None:
        if provider_id in self._held:
            self._held.discard(provider_id)
            await self._coord.release(lease_name(provider_id), self._me)

    def _op(self, op: Op, provider_id: str, ctx: CommandContext, **fields: Any) -> RuntimeOp:
        return RuntimeOp(op=op, provider_id=provider_id, principal=ctx.principal,
                         correlation_id=ctx.correlation_id, **fields)

    async def _send(self, address: str, op: RuntimeOp) -> OpResult:
        try:
            return await self._peers.send(address, op)
        except PeerUnreachableError:
            # Its lease still names it: route again once the membership has noticed.
            self._owners.pop(op.provider_id, None)
            raise

    # --- ProviderRuntime ------------------------------------------------------------------------

    async def ensure_started(self, provider_id: str, ctx: CommandContext, *, forwarded: bool = False) -> None:
        address = await self._claim_or_owner(provider_id, forwarded=forwarded)
        if address is not None:
            try:
                await self._send(address, self._op("start", provider_id, ctx))
                return
            except PeerUnreachableError:
                await self._claim_after_owner_died(provider_id)
        await self.local.ensure_started(provider_id, ctx)

    async def connection(self, provider_id: str, ctx: CommandContext = SYSTEM, *,
                         start: bool = True) -> ProviderConnection | None:
        """The live connection. Without ``start`` it never claims anything and answers for this
        replica only; with it, a provider owned by another replica is a ``_RemoteConnection``
        whose requests (resources, prompts, completions) are served by the owner's process."""
        if not start:
            return await self.local.connection(provider_id, ctx, start=False)
        address = await self._claim_or_owner(provider_id, forwarded=False)
        if address is not None:
            return cast("ProviderConnection", _RemoteConnection(self, provider_id, ctx))
        return await self.local.connection(provider_id, ctx, start=True)

    async def _claim_after_owner_died(self, provider_id: str) -> None:
        """The owner did not answer: wait its lease out (at most a TTL) and take it."""
        self._membership.live.pop(await self._holder(provider_id) or "", None)
        address = await self._claim_or_owner(provider_id, forwarded=True)
        if address is not None:
            raise ProviderUnavailableError(f"Provider '{provider_id}' moved to another replica; retry")

    async def _holder(self, provider_id: str) -> str | None:
        lease = await self._coord.lease(lease_name(provider_id))
        return lease.holder if lease is not None else None

    async def open_call(self, provider_id: str, ctx: CommandContext, *, forwarded: bool = False) -> CallTicket:
        address = await self._claim_or_owner(provider_id, forwarded=forwarded)
        if address is not None:
            return _RemoteTicket(self, provider_id, ctx)
        return await self.local.open_call(provider_id, ctx)

    async def forward_call(
        self, provider_id: str, ctx: CommandContext, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> OpResult:
        return await self.forward(self._op("call", provider_id, ctx, tool=tool, arguments=arguments,
                                           timeout_s=timeout_s))

    async def forward(self, op: RuntimeOp) -> OpResult:
        """Run a call or request at the provider's owner (here, if nobody else owns it)."""
        provider_id = op.provider_id
        address = await self._claim_or_owner(provider_id, forwarded=False)
        if address is not None:
            try:
                return await self._send(address, op)
            except PeerUnreachableError:
                await self._claim_after_owner_died(provider_id)
        return await self.serve(op)

    async def _at_owner(self, op: RuntimeOp, forwarded: bool) -> OpResult | None:
        """The owner's answer when another live replica owns the provider; None: act here (no
        owner elsewhere, it does not answer, or this op was forwarded here already)."""
        address = None if forwarded else await self._owner_elsewhere(op.provider_id)
        if address is None:
            return None
        try:
            return await self._send(address, op)
        except PeerUnreachableError:
            return None

    async def stop(self, provider_id: str, reason: str, ctx: CommandContext, *, forwarded: bool = False) -> bool:
        done = await self._at_owner(self._op("stop", provider_id, ctx, reason=reason), forwarded)
        if done is not None:
            return done.ok
        stopped = await self.local.stop(provider_id, reason, ctx)
        await self._release(provider_id)
        return stopped

    async def before_deregister(self, provider_id: str, ctx: CommandContext, *, forwarded: bool = False) -> None:
        await self._at_owner(self._op("deregister", provider_id, ctx), forwarded)
        await self.local.before_deregister(provider_id, ctx)
        await self._release(provider_id)

    async def after_update(self, provider_id: str, ctx: CommandContext, *, forwarded: bool = False) -> None:
        if await self._at_owner(self._op("update", provider_id, ctx), forwarded) is None:
            await self.local.after_update(provider_id, ctx)

    async def check_health(self, provider_id: str, *, forwarded: bool = False) -> bool:
        done = await self._at_owner(self._op("health", provider_id, SYSTEM), forwarded)
        return done.ok if done is not None else await self.local.check_health(provider_id)

    async def reset_breaker(self, provider_id: str, ctx: CommandContext, *, forwarded: bool = False) -> None:
        if await self._at_owner(self._op("reset_breaker", provider_id, ctx), forwarded) is None:
            await self.local.reset_breaker(provider_id, ctx)

    async def wait_idle(self, provider_id: str, timeout_s: float, *, forwarded: bool = False) -> None:
        op = self._op("wait_idle", provider_id, SYSTEM, timeout_s=timeout_s)
        if await self._at_owner(op, forwarded) is None:
            await self.local.wait_idle(provider_id, timeout_s)

    def task_opened(self, provider_id: str, task_id: str, ttl_ms: object = None) -> None:
        # Counted where the process runs. A task created through another replica is counted by
        # the owner when the relayed request passes through it (``note_relayed_task``).
        self.local.task_opened(provider_id, task_id, ttl_ms)

    def task_closed(self, provider_id: str, task_id: str) -> None:
        self.local.task_closed(provider_id, task_id)

    def spawn_start(self, provider_id: str, on_error: Callable[[HangarError], None]) -> None:
        async def start() -> None:
            try:
                await self.ensure_started(provider_id, SYSTEM)
            except HangarError as exc:
                on_error(exc)

        task = asyncio.ensure_future(start())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the owner's side of a forwarded op ---------------------------------------------------------

    async def serve(self, op: RuntimeOp) -> OpResult:
        """Run a forwarded op here (never forwarded again: see ``_claim_or_owner``)."""
        ctx = CommandContext(principal=op.principal, correlation_id=op.correlation_id)
        pid = op.provider_id
        if op.op == "start":
            await self.ensure_started(pid, ctx, forwarded=True)
        elif op.op == "stop":
            return OpResult(ok=await self.stop(pid, op.reason or "user_request", ctx, forwarded=True))
        elif op.op == "call":
            ticket = await self.open_call(pid, ctx, forwarded=True)
            try:
                outcome = await ticket.call(op.tool, op.arguments, op.timeout_s)
            finally:
                await ticket.settle()
            return OpResult(outcome=outcome)
        elif op.op == "request":
            await self._claim_or_owner(pid, forwarded=True)  # held here now, or it raises (moved on)
            request = getattr(await self.local.connection(pid, ctx, start=True), "request", None)
            if request is None:
                raise ProviderUnavailableError(f"Provider '{pid}' cannot forward '{op.method}'")
            result = await request(op.method, op.arguments, op.timeout_s)
            note_relayed_task(self.local, pid, op.method, op.arguments, result)
            return OpResult(result=result)
        elif op.op == "health":
            return OpResult(ok=await self.check_health(pid, forwarded=True))
        elif op.op == "reset_breaker":
            await self.reset_breaker(pid, ctx, forwarded=True)
        elif op.op == "deregister":
            await self.local.stop(pid, "deleted", ctx)
            await self._release(pid)
        elif op.op == "update":
            await self.after_update(pid, ctx, forwarded=True)
        elif op.op == "wait_idle":
            await self.wait_idle(pid, op.timeout_s, forwarded=True)
        return OpResult()

    # --- keeping the leases honest --------------------------------------------------------------

    async def verify_held(self) -> None:
        """Each heartbeat: a lease this replica lost (it could not renew in time and another
        replica took it) means its process here must go, so that one copy remains."""
        if not self._held:
            return
        now = time.time()
        mine = {lease.name.removeprefix(PROVIDER_LEASE) for lease in await self._coord.leases(PROVIDER_LEASE)
                if lease.holder == self._me and lease.expires_at > now}
        for pid in list(self._held - mine):
            if await self._coord.acquire(lease_name(pid), self._me, self._ttl) is not None:
                continue  # it had only run out, and nobody took it: ours again
            log.warning("provider_lease_lost", provider_id=pid)
            self._held.discard(pid)
            await self.local.stop(pid, "lease_lost", SYSTEM)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._held.clear()
        await self._peers.close()


def note_relayed_task(
    local: ProviderRuntime, provider_id: str, method: str, arguments: Mapping[str, Any], result: Any
) -> None:
    """A task another replica created or asked about, seen by the replica running its process:
    an open task holds off this replica's idle stop as one created here does, and an answer that
    shows it ended (or hands over its result) releases it."""
    if not isinstance(result, dict):
        return
    if method == "tools/call":
        task = result.get("task")
        if isinstance(task, dict) and isinstance(task.get("taskId"), str) and task.get("status") not in TERMINAL:
            local.task_opened(provider_id, task["taskId"], task.get("ttl"))
        return
    task_id = arguments.get("taskId")
    if not isinstance(task_id, str):
        return
    if method == "tasks/result" or (method in ("tasks/get", "tasks/cancel") and result.get("status") in TERMINAL):
        local.task_closed(provider_id, task_id)
