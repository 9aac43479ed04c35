"""Any read model as it was at a past position: the nearest checkpoint, then the log folded on.

A *checkpoint* is the set of time-travel read models (providers, groups, catalog, auth) pickled
at one position. The live models are copied by a projector listener every ``every`` events
(after all projections applied that event, so the copy is exact) and stored in the
``read_model_checkpoints`` table. An as-of read unpickles the newest checkpoint at or before
the wanted position into fresh instances and folds at most ``every`` events onto them; the
live models are never touched.

Compaction deletes early events of a stream. A fold that crosses deleted events would be
wrong, so every position before the latest ``StreamCompacted`` is *gone* (410) unless reading
it needs no fold across the hole; a checkpoint is taken as soon as a compaction is applied,
so the history from then on stays readable.
"""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime

import structlog

from hangar.app import codec
from hangar.app.auth.projection import _HANDLERS as _AUTH_HANDLERS
from hangar.app.auth.projection import AuthProjection
from hangar.app.log.ports import LogStore
from hangar.app.maintenance import MAINTENANCE_STREAM
from hangar.app.ports import RecordedEvent
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.domain.catalog import STREAM_PREFIX as CATALOG_STREAM
from hangar.domain.errors import HangarError, ValidationError
from hangar.domain.events import Event
from hangar.domain.group import STREAM_PREFIX as GROUP_STREAM

log = structlog.get_logger("hangar.timetravel")

# Names the pickled shape; bump it when a read model's attributes change, and older
# checkpoints are ignored (never misread).
FORMAT = "read-models-2"
FOLD_PAGE = 5000


class HistoryGoneError(HangarError):
    """410: the log before ``earliest`` was compacted away."""

    status_code = 410

    def __init__(self, position: int, earliest: int) -> None:
        super().__init__(
            f"the log before position {earliest} was compacted; position {position} can no longer "
            f"be read (earliest available position: {earliest})"
        )
        self.earliest = earliest
        self.headers = {"X-Earliest-Position": str(earliest)}


# What the folded models react to: the providers' and auth models' own handler tables, and the
# group and catalog streams (those models dispatch on the stream). Everything else (completed
# calls, health checks' neighbours, audit records) is skipped before it is decoded.
_FOLDED_TYPES = frozenset(t.__name__ for t in (*ProvidersProjection._handlers, *_AUTH_HANDLERS))
_FOLDED_STREAMS = (GROUP_STREAM, CATALOG_STREAM)


class ReadModels:
    """The read models a past moment can be asked about."""

    def __init__(
        self, providers: ProvidersProjection, groups: GroupsProjection, catalog: CatalogProjection,
        auth: AuthProjection, position: int = 0,
    ) -> None:
        self.providers = providers
        self.groups = groups
        self.catalog = catalog
        self.auth = auth
        self.position = position

    @classmethod
    def empty(cls) -> ReadModels:
        return cls(ProvidersProjection(), GroupsProjection(), CatalogProjection(), AuthProjection())

    @staticmethod
    def wants(rec: RecordedEvent) -> bool:
        return rec.event_type in _FOLDED_TYPES or rec.stream_id.startswith(_FOLDED_STREAMS)

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        self.providers.apply(rec, event)
        self.groups.apply(rec, event)
        self.catalog.apply(rec, event)
        self.auth.apply(rec, event)
        self.position = rec.position

    def dumps(self) -> bytes:
        return pickle.dumps(
            (self.providers, self.groups, self.catalog, self.auth, self.position), pickle.HIGHEST_PROTOCOL
        )

    @classmethod
    def loads(cls, blob: bytes) -> ReadModels:
        # Our own bytes from our own table, written by ``dumps`` under the same FORMAT.
        providers, groups, catalog, auth, position = pickle.loads(blob)
        return cls(providers, groups, catalog, auth, position)


def parse_as_of(value: str) -> int | float:
    """A global position (digits) or an RFC 3339 time (returned as Unix seconds)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"as_of '{value}' is neither a position (a non-negative integer) nor an RFC 3339 time"
        ) from None
    if moment.tzinfo is None:
        raise ValidationError(f"as_of '{value}' needs a time zone offset (RFC 3339), e.g. 'Z'")
    return moment.astimezone(UTC).timestamp()


class TimeTravel:
    """Checkpoints the live read models and answers "as of" questions from the log."""

    def __init__(self, store: LogStore, live: ReadModels, every: int = 10_000, cache_size: int = 4) -> None:
        self._store = store
        self._live = live
        self.every = max(1, every)
        self._positions: list[int] = []
        self._cache: dict[int, bytes] = {}
        self._cache_size = cache_size
        self._last_taken = 0
        self.floor = 0
        """Position of the latest compaction: nothing before it can be folded."""
        self._replay_until = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Before the projector replays: learn the stored checkpoints and the compaction floor."""
        self._positions = await self._store.checkpoint_positions(FORMAT)
        for rec in await self._store.read_stream(MAINTENANCE_STREAM):
            if rec.event_type == "StreamCompacted":
                self.floor = rec.position
        if self.floor:
            # The projector seeds compacted streams from snapshots newer than the events it then
            # replays, so its models are only exact once it has caught up.
            self._replay_until = await self._store.last_position()
        self._last_taken = self._positions[-1] if self._positions else 0

    async def caught_up(self) -> None:
        """After the replay: the live models are exact now; keep a copy if nothing newer exists."""
        if self.floor and not any(p >= self.floor for p in self._positions) and self._live.position:
            self._take(self._live.position)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the projector listener -------------------------------------------------------------------

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        self._live.position = rec.position
        if rec.event_type == "StreamCompacted":
            self.floor = rec.position
        if rec.position <= self._replay_until:
            return
        if rec.event_type == "StreamCompacted":
            self._take(rec.position)
            return
        if rec.position - self._last_taken >= self.every:
            self._take(rec.position)

    def _take(self, position: int) -> None:
        self._last_taken = position
        if position in self._positions:
            return
        blob = self._live.dumps()
        self._remember(position, blob)
        task = asyncio.get_running_loop().create_task(self._save(position, blob))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save(self, position: int, blob: bytes) -> None:
        try:
            await self._store.save_checkpoint(position, FORMAT, codec.now(), blob)
        except Exception:
            log.exception("checkpoint_save_failed", position=position)
            return
        if position not in self._positions:
            self._positions.append(position)
            self._positions.sort()

    def _remember(self, position: int, blob: bytes) -> None:
        self._cache[position] = blob
        while len(self._cache) > self._cache_size:
            del self._cache[min(self._cache)]

    # --- as-of reads ----------------------------------------------------------------------------

    async def resolve(self, as_of: str) -> int:
        """The position ``as_of`` names; a time names the last event recorded by then."""
        head = await self._store.last_position()
        point = parse_as_of(as_of)
        if isinstance(point, int):
            if point > head:
                raise ValidationError(f"as_of position {point} is beyond the end of the log ({head})")
            return point
        return min(head, await self._store.position_at(point))

    def earliest(self) -> int:
        if not self.floor:
            return 0
        later = [p for p in [*self._positions, *self._cache] if p >= self.floor]
        return min(later) if later else self.floor

    async def at(self, position: int) -> ReadModels:
        """Fresh read models exactly as they were once ``position`` was applied."""
        candidates = sorted((p for p in {*self._positions, *self._cache} if self.floor <= p <= position), reverse=True)
        for start in candidates:
            blob = self._cache.get(start) or await self._store.load_checkpoint(start, FORMAT)
            if blob is not None:
                self._remember(start, blob)
                models = ReadModels.loads(blob)
                break
            # Listed but not loadable (replaced since): an earlier checkpoint still folds forward.
            if start in self._positions:
                self._positions.remove(start)
        else:
            if self.floor:
                raise HistoryGoneError(position, self.earliest())
            models = ReadModels.empty()
        await self._fold(models, position)
        return models

    async def _fold(self, models: ReadModels, position: int) -> None:
        after = models.position
        while after < position:
            batch = await self._store.read_all(after, min(FOLD_PAGE, position - after))
            if not batch:
                break
            for rec in batch:
                if rec.position > position:
                    break
                if not models.wants(rec):
                    continue
                try:
                    event = codec.decode(rec)
                except Exception:
                    log.error("undecodable_event", position=rec.position, event_type=rec.event_type)
                    continue
                models.apply(rec, event)
            after = batch[-1].position
        models.position = position
