"""The log features' part of the object graph (kept apart so the composition root stays small)."""

from __future__ import annotations

from hangar.app.auth.projection import AuthProjection
from hangar.app.log.events import EventLog
from hangar.app.log.insight import Insight
from hangar.app.log.ports import LogStore
from hangar.app.log.timetravel import ReadModels, TimeTravel
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector


class LogFeatures:
    def __init__(
        self, store: LogStore, projector: Projector, providers: ProvidersProjection, groups: GroupsProjection,
        catalog: CatalogProjection, auth: AuthProjection, live_queue_size: int, checkpoint_every: int = 10_000,
    ) -> None:
        self.store = store
        self.events = EventLog(store, projector, live_queue_size)
        self.live = ReadModels(providers, groups, catalog, auth)
        self.time_travel = TimeTravel(store, self.live, checkpoint_every)
        self.insight = Insight(store, self.time_travel)
        # Added after every projection, so a checkpoint copies models that include the event.
        projector.add_listener(self.time_travel)

    async def start(self) -> None:
        await self.time_travel.start()

    async def caught_up(self) -> None:
        await self.time_travel.caught_up()

    async def close(self) -> None:
        await self.time_travel.close()
