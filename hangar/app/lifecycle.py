"""Operator commands on a provider's process: start and stop.

The live process belongs to the supervisor (``hangar.runtime.supervisor``); these handlers check
the provider exists and ask it, passing on the command's principal and correlation id so the
facts the supervisor records are traced back to the request that caused them.
"""

from __future__ import annotations

import msgspec

from hangar.app.bus import CommandBus, CommandContext, follow
from hangar.app.codec import EventMetadata
from hangar.app.repository import ProviderRepository
from hangar.app.runtime_facts import ProviderRuntime


class StartProvider(msgspec.Struct, frozen=True):
    provider_id: str


class StopProvider(msgspec.Struct, frozen=True):
    provider_id: str
    reason: str = "user_request"


def register_lifecycle_commands(bus: CommandBus, repo: ProviderRepository, runtime: ProviderRuntime) -> None:
    async def start(cmd: StartProvider, ctx: CommandContext, meta: EventMetadata) -> None:
        (await repo.load(cmd.provider_id)).require()
        await runtime.ensure_started(cmd.provider_id, follow(ctx, meta))

    async def stop(cmd: StopProvider, ctx: CommandContext, meta: EventMetadata) -> None:
        (await repo.load(cmd.provider_id)).require()
        await runtime.stop(cmd.provider_id, cmd.reason, follow(ctx, meta))

    bus.register(StartProvider, start)
    bus.register(StopProvider, stop)
