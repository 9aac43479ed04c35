"""Learning what a provider offers before anyone asks for it.

A reaction to the log, never a write from inside a query:

- ``ProviderRegistered`` (API, config file, discovery approval, catalog deploy, ToolHive API all
  end in that event) of a provider whose ``discover_on_register`` is true issues one
  ``StartProvider`` in the background. The start records the tools (``ProviderStarted``); the
  normal idle shutdown stops the process later. A start that fails is recorded as
  ``ProviderStartFailed``, whose reason the REST views show as ``last_error``.
- Every ``ProviderStarted``, and a provider's own ``resources``/``prompts`` ``list_changed``,
  lists its resources, resource templates and prompts over the live connection and records them
  as ``ProviderOfferingsDiscovered`` (in ``offerings:{provider}``) when they differ from the log.
- At start-up, providers registered earlier that were never started are discovered as well
  (in a cluster by the leader alone, a leader duty).

``settled(timeout)`` waits for discoveries in flight, so a client's first ``tools/list`` on a
fresh server already sees every tool.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import structlog

from hangar.app import codec, units
from hangar.app.bus import SYSTEM, CommandBus
from hangar.app.codec import EventMetadata, new_id
from hangar.app.lifecycle import StartProvider
from hangar.app.ports import ANY_VERSION, EventStore, RecordedEvent
from hangar.app.projections.offerings import Offerings, OfferingsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.runtime_facts import ProviderRuntime
from hangar.domain import events as ev
from hangar.domain.errors import HangarError
from hangar.domain.event_base import Event
from hangar.domain.mcp_events import ProviderOfferingsDiscovered, offerings_stream_id

log = structlog.get_logger("hangar.mcp")

LIST_TIMEOUT_S = 10.0
MAX_PAGES = 100
# Registering many providers at once (a catalog deploy, a discovery scan) starts them a few at a time.
CONCURRENT_STARTS = 4


class McpDiscovery:
    def __init__(
        self, bus: CommandBus, store: EventStore, runtime: ProviderRuntime, providers: ProvidersProjection,
        offerings: OfferingsProjection, instance_id: str, enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        """``mcp.discover_on_register`` of the config: off starts nothing on registration."""
        self._bus = bus
        self._store = store
        self._runtime = runtime
        self._providers = providers
        self._offerings = offerings
        self._instance = instance_id
        self._tasks: set[asyncio.Task[None]] = set()
        self._live = False
        self._starts = asyncio.Semaphore(CONCURRENT_STARTS)

    # --- reactions ----------------------------------------------------------------------------

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        if not self._live:
            return
        if isinstance(event, ev.ProviderRegistered) and event.spec.discover_on_register and self.enabled:
            # Every replica sees the registration; the one that recorded it does the discovery.
            if self._recorded_here(rec):
                self._spawn(self._discover(event.provider_id))
        elif isinstance(event, ev.ProviderStarted):
            self._spawn(self._learn_offerings(event.provider_id))

    def _recorded_here(self, rec: RecordedEvent) -> bool:
        try:
            return codec.decode_metadata(rec).instance == self._instance
        except msgspec.DecodeError:
            return True

    def offerings_changed(self, provider_id: str, kind: str) -> None:
        """The connector heard a provider's own ``list_changed``."""
        if kind in ("resources", "prompts") and self._live:
            self._spawn(self._learn_offerings(provider_id))

    async def start(self, *, scan: bool = True) -> None:
        """React to the log from now on; ``scan``: also discover what was never started (in a
        cluster the leader alone scans, as a leader duty, so a provider is not started by
        every replica at once)."""
        self._live = True
        if scan:
            await self.scan()

    async def scan(self) -> None:
        """Discover the providers registered earlier that were never started."""
        for view in list(self._providers.views.values()) if self.enabled else []:
            if view.spec.discover_on_register and view.last_started is None and view.state == "cold":
                self._spawn(self._discover(view.provider_id))

    async def settled(self, timeout_s: float) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    async def close(self) -> None:
        self._live = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- work ---------------------------------------------------------------------------------

    async def _discover(self, provider_id: str) -> None:
        try:
            async with self._starts:
                await self._bus.execute(StartProvider(provider_id=provider_id), SYSTEM)
        except HangarError as exc:
            # Recorded as ProviderStartFailed by the supervisor; its reason is in the REST views.
            log.info("provider_discovery_failed", provider_id=provider_id, error=exc.message)
            return
        await self._learn_offerings(provider_id)

    async def _learn_offerings(self, provider_id: str) -> None:
        conn = await self._runtime.connection(provider_id, start=False)
        request = getattr(conn, "request", None)
        if conn is None or request is None:
            return
        caps: dict[str, Any] = getattr(conn, "capabilities", {}) or {}
        try:
            found = Offerings(
                resources=await _list_all(request, "resources/list", "resources") if "resources" in caps else [],
                resource_templates=(await _list_all(request, "resources/templates/list", "resourceTemplates")
                                    if "resources" in caps else []),
                prompts=await _list_all(request, "prompts/list", "prompts") if "prompts" in caps else [],
            )
        except (TimeoutError, HangarError) as exc:
            log.info("provider_offerings_unavailable", provider_id=provider_id, error=str(exc))
            return
        if found == (self._offerings.get(provider_id) or Offerings()):
            return
        meta = EventMetadata(correlation_id=new_id(), principal="system", instance=self._instance)
        event = ProviderOfferingsDiscovered(
            provider_id=provider_id, resources=found.resources,
            resource_templates=found.resource_templates, prompts=found.prompts,
        )
        with contextlib.suppress(HangarError):
            await units.append(self._store, offerings_stream_id(provider_id), ANY_VERSION, [codec.encode(event, meta)])


async def _list_all(request: Any, method: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        res = await request(method, {"cursor": cursor} if cursor else None, LIST_TIMEOUT_S)
        if not isinstance(res, dict):
            break
        items.extend(i for i in res.get(key) or [] if isinstance(i, dict))
        cursor = res.get("nextCursor")
        if not cursor:
            break
    return items
