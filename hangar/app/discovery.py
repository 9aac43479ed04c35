"""Discovery: commands on sources and candidates, and the background scans.

A scan runs the source's scanner (a port: ``SourceScanner``), vets every find (schema and
mode rules from the domain, the machine's checks through ``CandidateChecker``, name collisions
here), lets the aggregate plan, and carries the plan out through the normal provider commands.
Scans of one source are serialised; each enabled source has its own background loop, so a
failing source records its error and never holds up the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.progress import Progress
from hangar.app.projections.discovery import DiscoveryProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.providers import DeregisterProvider, RegisterProvider
from hangar.app.repository import Repository, RepositoryFactory
from hangar.config.schema import HangarConfig
from hangar.domain.discovery import (
    DiscoverySource,
    ScanPlan,
    Vetted,
    candidate_spec,
    fingerprint,
    parse_source_config,
)
from hangar.domain.discovery_events import Candidate
from hangar.domain.errors import CandidateNotFoundError, HangarError, ValidationError

log = structlog.get_logger("hangar.discovery")


class SourceScanner(Protocol):
    async def scan(self, config: Any) -> list[Candidate]: ...

    def signature(self, config: Any) -> Hashable | None:
        """A cheap change detector (None: the source is only scanned on its schedule)."""


class CandidateChecker(Protocol):
    async def check(self, spec: Any) -> list[str]:
        """Problems running ``spec`` here would meet (command missing, image unknown)."""


# --- commands --------------------------------------------------------------------------------


class RegisterSource(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str
    source_type: str
    mode: str
    enabled: bool = True
    config: dict[str, Any] = {}
    upsert: bool = False


class UpdateSource(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str
    mode: str | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None


class DeregisterSource(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str


class ScanSource(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str


class ScanSources(msgspec.Struct, frozen=True, kw_only=True):
    """Scan several sources one after the other (all enabled ones when ``source_ids`` is None)."""

    source_ids: list[str] | None = None


class ApproveCandidate(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    source_id: str | None = None


class RejectCandidate(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    source_id: str | None = None
    reason: str = ""


class ScanResult(msgspec.Struct, kw_only=True):
    source_id: str
    providers_found: int
    pending: int = 0
    quarantined: int = 0
    registered: list[str] = []
    deregistered: list[str] = []
    new: int = 0
    """Candidates this scan saw for the first time (now pending, quarantined or registered)."""
    duration_ms: float = 0.0
    error: str | None = None


class ScanSummary(msgspec.Struct, kw_only=True):
    sources: list[ScanResult]
    providers_found: int
    new: int
    failed: int
    duration_ms: float


class Decision(msgspec.Struct, kw_only=True):
    source_id: str
    provider_id: str


DiscoveryRepository = Repository[DiscoverySource]


def _nested(ctx: CommandContext) -> CommandContext:
    # The caller's If-Match is about the source, never about the providers a scan touches.
    return msgspec.structs.replace(ctx, if_match=None)


class DiscoveryService:
    def __init__(
        self,
        repo: DiscoveryRepository,
        bus: CommandBus,
        providers: ProvidersProjection,
        view: DiscoveryProjection,
        scanners: dict[str, SourceScanner],
        checker: CandidateChecker,
    ) -> None:
        self.repo, self.bus, self.providers, self.view = repo, bus, providers, view
        self.scanners, self.checker = scanners, checker
        self.context: Callable[[], CommandContext] = lambda: SYSTEM
        """The context of scheduled scans (in a cluster: the leader's, with its fencing token)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._loops: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._running = False

    def register_with(self, bus: CommandBus) -> None:
        bus.register(RegisterSource, self.register_source)
        bus.register(UpdateSource, self.update_source)
        bus.register(DeregisterSource, self.deregister_source)
        bus.register(ScanSource, self.scan, multi_step=True)
        bus.register(ScanSources, self.scan_many)
        bus.register(ApproveCandidate, self.approve)
        bus.register(RejectCandidate, self.reject)

    def _lock(self, source_id: str) -> asyncio.Lock:
        return self._locks.setdefault(source_id, asyncio.Lock())

    # --- sources -----------------------------------------------------------------------------

    async def register_source(self, cmd: RegisterSource, ctx: CommandContext, meta: EventMetadata) -> bool:
        def decide(s: DiscoverySource) -> list[Any]:
            if cmd.upsert and s.exists:
                return s.update(cmd.mode, cmd.enabled, cmd.config)
            return s.register(cmd.source_type, cmd.mode, cmd.enabled, cmd.config)

        res = await self.repo.execute(cmd.source_id, decide, meta, if_match=ctx.if_match)
        if res.events:
            self._reschedule(cmd.source_id)
        return bool(res.events)

    async def update_source(self, cmd: UpdateSource, ctx: CommandContext, meta: EventMetadata) -> int:
        res = await self.repo.execute(
            cmd.source_id, lambda s: s.update(cmd.mode, cmd.enabled, cmd.config), meta, if_match=ctx.if_match
        )
        if res.events:
            self._reschedule(cmd.source_id)
        return res.aggregate.version

    async def deregister_source(self, cmd: DeregisterSource, ctx: CommandContext, meta: EventMetadata) -> None:
        async with self._lock(cmd.source_id):
            await self.repo.execute(cmd.source_id, lambda s: s.deregister(), meta, if_match=ctx.if_match)
        self._reschedule(cmd.source_id)

    # --- vetting -----------------------------------------------------------------------------

    async def vet(self, src: DiscoverySource, c: Candidate, extra: list[str] | None = None) -> Vetted:
        spec, reasons = candidate_spec(c)
        reasons += extra or []
        if spec is not None:
            reasons += await self.checker.check(spec)
        if c.name in self.providers.views and c.name not in src.s.owned:
            reasons.append(f"name collision: provider '{c.name}' already exists and was not registered by this source")
        else:
            other = self.view.claimed_elsewhere(c.name, src.source_id)
            if other is not None:
                reasons.append(f"name collision: source '{other}' already proposes or registered '{c.name}'")
        return Vetted(candidate=c, fingerprint=fingerprint(c), reasons=reasons)

    async def _vet_all(self, src: DiscoverySource, found: list[Candidate]) -> list[Vetted]:
        by_name: dict[str, list[Candidate]] = {}
        for c in found:
            by_name.setdefault(c.name, []).append(c)
        out = []
        for name, same in by_name.items():
            extra = []
            if len(same) > 1:
                # Neither definition can win silently: keep the first, quarantined, naming all.
                extra = [f"name collision: '{name}' is defined more than once ({', '.join(c.origin for c in same)})"]
            out.append(await self.vet(src, same[0], extra))
        return out

    # --- scans -------------------------------------------------------------------------------

    async def scan(self, cmd: ScanSource, ctx: CommandContext, meta: EventMetadata) -> ScanResult:
        sid = cmd.source_id
        async with self._lock(sid):
            src = await self.repo.check(sid, None)
            cfg = src.parsed_config()
            started = time.monotonic()
            try:
                found = await self.scanners[src.s.source_type].scan(cfg)
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                log.warning("discovery_scan_failed", source_id=sid, error=error)
                ms = (time.monotonic() - started) * 1000
                await self.repo.execute(sid, lambda s: s.scan_completed(0, error, ms), meta)
                return ScanResult(source_id=sid, providers_found=0, error=error, duration_ms=round(ms, 3))
            known = set(src.s.pending) | set(src.s.quarantined) | set(src.s.owned) | set(src.s.rejected)
            vetted = await self._vet_all(src, found)
            existing = set(self.providers.views)
            plans: list[ScanPlan] = []

            def decide(s: DiscoverySource) -> list[Any]:
                plans[:] = [s.plan_scan(vetted, existing)]
                return list(plans[0].events)

            await self.repo.execute(sid, decide, meta)
            plan = plans[0]
            registered = await self._register_all(sid, plan, ctx, meta)
            removed = await self._remove_all(sid, plan, ctx, meta)
            ms = (time.monotonic() - started) * 1000
            res = await self.repo.execute(sid, lambda s: s.scan_completed(len(found), None, ms), meta)
        s = res.aggregate.s
        new = len({c.name for c in found} - known)
        log.info("discovery_scanned", source_id=sid, found=len(found), new=new, pending=len(s.pending),
                 quarantined=len(s.quarantined), registered=len(registered), removed=len(removed),
                 duration_ms=round(ms, 3))
        return ScanResult(
            source_id=sid, providers_found=len(found), pending=len(s.pending), quarantined=len(s.quarantined),
            registered=registered, deregistered=removed, new=new, duration_ms=round(ms, 3),
        )

    async def scan_many(self, cmd: ScanSources, ctx: CommandContext, meta: EventMetadata) -> ScanSummary:
        """A line per source (found, new) and a summary with the duration: a long run shows its course."""
        if cmd.source_ids is None:
            ids = sorted(sid for sid, v in self.view.sources.items() if v.enabled)
        else:
            missing = [sid for sid in cmd.source_ids if self.view.get(sid) is None]
            if missing:
                raise ValidationError(f"unknown discovery sources: {', '.join(missing)}")
            ids = list(dict.fromkeys(cmd.source_ids))
        progress = Progress("discovery_scan", len(ids))
        results: list[ScanResult] = []
        for sid in ids:
            r = await self.scan(ScanSource(source_id=sid), ctx, meta)
            results.append(r)
            progress.advance(outcome="failed" if r.error else "scanned")
            progress.item(item=sid, found=r.providers_found, new=r.new, pending=r.pending,
                          quarantined=r.quarantined, error=r.error, duration_ms=r.duration_ms)
        summary = progress.finish(providers_found=sum(r.providers_found for r in results),
                                  new=sum(r.new for r in results))
        return ScanSummary(sources=results, providers_found=summary["providers_found"], new=summary["new"],
                           failed=sum(1 for r in results if r.error), duration_ms=round(summary["elapsed_s"] * 1000, 3))

    async def _register_all(self, sid: str, plan: ScanPlan, ctx: CommandContext, meta: EventMetadata) -> list[str]:
        done = []
        for v in plan.register:
            name = v.candidate.name
            try:
                await self._register(sid, v, ctx, meta, automatic=True)
                done.append(name)
            except HangarError as exc:
                failed = msgspec.structs.replace(v, reasons=[f"registration failed: {exc.message}"])
                await self.repo.execute(sid, lambda s, f=failed: s.quarantine(f), meta)  # type: ignore[misc]
        return done

    async def _register(
        self, sid: str, v: Vetted, ctx: CommandContext, meta: EventMetadata, automatic: bool = False
    ) -> None:
        spec, reasons = candidate_spec(v.candidate)
        if spec is None:
            raise ValidationError("; ".join(reasons))
        name = v.candidate.name
        src = await self.repo.load(sid)
        await self.bus.execute(
            RegisterProvider(provider_id=name, spec=spec, upsert=name in src.s.owned), _nested(ctx)
        )
        await self.repo.execute(sid, lambda s: s.approve(name, v.fingerprint, name, automatic), meta)
        log.info("discovered_provider_registered", source_id=sid, provider_id=name, automatic=automatic)

    async def _remove_all(self, sid: str, plan: ScanPlan, ctx: CommandContext, meta: EventMetadata) -> list[str]:
        done = []
        for name in plan.remove:
            if name in self.providers.views:
                try:
                    await self.bus.execute(DeregisterProvider(provider_id=name), _nested(ctx))
                    done.append(name)
                except HangarError as exc:
                    log.warning("discovered_provider_removal_failed", provider_id=name, error=exc.message)
                    continue
            await self.repo.execute(sid, lambda s, n=name: s.lose(n, True), meta)  # type: ignore[misc]
        return done

    # --- decisions ---------------------------------------------------------------------------

    def _holder(self, name: str, source_id: str | None) -> str:
        sid = self.view.holder(name, source_id)
        if sid is None:
            raise CandidateNotFoundError(name)
        return sid

    async def approve(self, cmd: ApproveCandidate, ctx: CommandContext, meta: EventMetadata) -> Decision:
        sid = self._holder(cmd.name, cmd.source_id)
        async with self._lock(sid):
            src = await self.repo.check(sid, None)
            held = src.s.pending.get(cmd.name) or src.s.quarantined.get(cmd.name)
            if held is None:
                raise CandidateNotFoundError(cmd.name)
            # Vetted again: the command may exist by now, or the name may have been taken.
            v = await self.vet(src, held.candidate)
            if v.reasons:
                raise ValidationError(f"Cannot approve '{cmd.name}': {'; '.join(v.reasons)}")
            await self._register(sid, msgspec.structs.replace(v, fingerprint=held.fingerprint), ctx, meta)
        return Decision(source_id=sid, provider_id=cmd.name)

    async def reject(self, cmd: RejectCandidate, ctx: CommandContext, meta: EventMetadata) -> Decision:
        sid = self._holder(cmd.name, cmd.source_id)
        async with self._lock(sid):
            await self.repo.execute(sid, lambda s: s.reject(cmd.name, cmd.reason), meta)
        return Decision(source_id=sid, provider_id=cmd.name)

    # --- background scans --------------------------------------------------------------------

    async def start(self) -> None:
        """Start a background loop per enabled source (after the config's are applied)."""
        self._running = True
        for sid in list(self.view.sources):
            self._reschedule(sid)

    def sync_loops(self) -> None:
        """Loops for sources another replica registered (a cluster leader calls this)."""
        for sid in list(self.view.sources):
            if sid not in self._loops:
                self._reschedule(sid)

    def _reschedule(self, source_id: str) -> None:
        old = self._loops.pop(source_id, None)
        if old is not None:
            old[1].set()  # the old loop finishes a scan in progress, then exits
        view = self.view.get(source_id)
        if not self._running or view is None or not view.enabled:
            return
        stop = asyncio.Event()
        task = asyncio.create_task(self._loop(source_id, stop), name=f"discovery-{source_id}")
        self._loops[source_id] = (task, stop)

    async def _loop(self, source_id: str, stop: asyncio.Event) -> None:
        last_sig: Hashable | None = None
        next_scan = 0.0
        while not stop.is_set():
            view = self.view.get(source_id)
            if view is None or not view.enabled:
                return
            try:
                cfg = parse_source_config(view.source_type, view.config)
            except HangarError:
                return
            watch = bool(getattr(cfg, "watch", False))
            sig = None
            if watch:
                sig = await asyncio.to_thread(self.scanners[view.source_type].signature, cfg)
            if time.monotonic() >= next_scan or (watch and sig != last_sig):
                last_sig = sig
                try:
                    await self.bus.execute(ScanSource(source_id=source_id), self.context())
                except Exception as exc:  # the loop must outlive any one scan
                    log.warning("discovery_loop_error", source_id=source_id, error=repr(exc))
                next_scan = time.monotonic() + cfg.interval_s
            tick = max(0.05, next_scan - time.monotonic())
            if watch:
                tick = min(tick, cfg.watch_interval_s)
            try:
                await asyncio.wait_for(stop.wait(), tick)
            except TimeoutError:
                pass

    async def close(self) -> None:
        self._running = False
        loops = list(self._loops.values())
        self._loops.clear()
        for _, stop in loops:
            stop.set()
        tasks = [t for t, _ in loops]
        if tasks:
            _, slow = await asyncio.wait(tasks, timeout=10)
            for t in slow:
                t.cancel()
            await asyncio.gather(*slow, return_exceptions=True)


def resolve_paths(source_type: str, config: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """A config file's relative ``path`` is taken from the file's directory, not the cwd."""
    path = config.get("path")
    if source_type != "filesystem" or base is None or not isinstance(path, str) or Path(path).is_absolute():
        return config
    return {**config, "path": str((base / path).resolve())}


class DiscoverySection:
    """The ``discovery.sources`` of the config file for the configuration sync: sources the
    file declares are registered or updated, and removed when a later file drops them."""

    name = "discovery"

    def __init__(self, bus: CommandBus, view: DiscoveryProjection, config_path: Callable[[], str | None]) -> None:
        self._bus, self._view, self._config_path = bus, view, config_path

    def desired(self, cfg: HangarConfig) -> dict[str, Any]:
        path = self._config_path()
        base = Path(path).resolve().parent if path else None
        return {
            sid: {"source_type": sc.source_type, "mode": sc.mode, "enabled": sc.enabled,
                  "config": resolve_paths(str(sc.source_type), dict(sc.config), base)}
            for sid, sc in cfg.discovery.sources.items()
        }

    def current(self) -> dict[str, Any]:
        return {
            sid: {"source_type": v.source_type, "mode": v.mode, "enabled": v.enabled, "config": v.config}
            for sid, v in self._view.sources.items()
        }

    def export(self) -> dict[str, Any]:
        cur = self.current()
        return {"sources": {k: cur[k] for k in sorted(cur)}} if cur else {}

    def declared(self, cfg: HangarConfig) -> dict[str, Any]:
        want = self.desired(cfg)
        return {"sources": {k: want[k] for k in sorted(want)}} if want else {}

    async def add(self, key: str, value: Any, ctx: CommandContext) -> None:
        await self._bus.execute(RegisterSource(
            source_id=key, source_type=value["source_type"], mode=value["mode"], enabled=value["enabled"],
            config=value["config"], upsert=True,
        ), ctx)

    async def change(self, key: str, value: Any, ctx: CommandContext, graceful: bool) -> None:
        await self.add(key, value, ctx)

    async def remove(self, key: str, ctx: CommandContext, graceful: bool) -> None:
        await self._bus.execute(DeregisterSource(source_id=key), ctx)


discovery_repository = RepositoryFactory(
    "DiscoverySource", "discovery:", DiscoverySource, DiscoverySource.from_snapshot
)
