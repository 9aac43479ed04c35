"""One command, one audit record in the log, whatever it did: counted in the raw log (SQLite, and
PostgreSQL when ``HANGAR_TEST_PG_URL`` is set), with the bus, the projector and the recorder wired
as Hangar wires them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hangar.app import codec, units
from hangar.app.auth.audit import AuditRecorder
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.projector import Projector
from hangar.domain import events as ev
from hangar.domain.auth_aggregates import AUDIT_STREAM
from hangar.domain.errors import ValidationError
from hangar.store import SqlEventStore, migrate
from tests.store.conftest import BACKENDS, PG_URL, pg_execute, with_schema


class Steps(msgspec.Struct, frozen=True):
    """Append ``appends`` times to the stream of ``provider_id``, then fail if ``fail``."""

    provider_id: str
    appends: int = 1
    fail: bool = False


class MultiSteps(Steps, frozen=True):
    """The same, registered as multi-step."""


class Env:
    def __init__(self, store: SqlEventStore, bus: CommandBus, recorder: AuditRecorder) -> None:
        self.store, self.bus, self.recorder = store, bus, recorder

    async def run(self, command: Any) -> Exception | None:
        try:
            await self.bus.execute(command, CommandContext(principal="alice"))
        except ValidationError as exc:
            return exc
        finally:
            await self.recorder.close()  # the records written after the command are durable
        return None

    async def records(self, command_type: str) -> list[Any]:
        rows = await self.store.read_stream(AUDIT_STREAM)
        decoded = [codec.decode(r) for r in rows]
        return [(r, d) for r, d in zip(rows, decoded, strict=True) if d.command == command_type]


@pytest.fixture(params=BACKENDS)
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    else:
        schema = f"hangar_audit_{tmp_path.name[-12:].lower().replace('-', '_')}"
        await pg_execute(PG_URL, f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")
        url = with_schema(PG_URL, schema)
    await migrate(url)
    store = SqlEventStore(url, poll_interval_s=0.05)
    await store.start()
    projector = Projector(store, [])
    recorder = AuditRecorder(store, projector, "test")
    projector.add_listener(recorder.listener)
    bus = CommandBus("test")
    bus.observe(recorder.observe)
    bus.carry(recorder.rider)

    async def steps(cmd: Steps, ctx: CommandContext, meta: EventMetadata) -> None:
        for i in range(cmd.appends):
            event = ev.ProviderStopped(provider_id=cmd.provider_id, reason=f"step {i}") if i else \
                ev.ProviderStateChanged(provider_id=cmd.provider_id, old_state="cold", new_state="ready")
            _, position = await units.append(store, f"provider:{cmd.provider_id}", None, [codec.encode(event, meta)])
            await projector.wait_for(position)
        if cmd.fail:
            raise ValidationError("refused")

    bus.register(Steps, steps)
    bus.register(MultiSteps, steps, multi_step=True)
    await projector.start()
    try:
        yield Env(store, bus, recorder)
    finally:
        await projector.stop()
        await store.close()
        if schema is not None:
            await pg_execute(PG_URL, f"DROP SCHEMA {schema} CASCADE")


async def test_one_append_carries_its_record_in_the_same_transaction(env: Env) -> None:
    before = env.store.transactions
    assert await env.run(Steps(provider_id="p1")) is None
    assert env.store.transactions == before + 1  # one commit, one fsync
    [(rec, record)] = await env.records("Steps")
    [own] = await env.store.read_stream("provider:p1")
    assert rec.position == own.position + 1 and record.outcome == "success"
    assert record.events == ["ProviderStateChanged"] and record.principal == "alice"


async def test_a_command_refused_before_appending_has_one_record(env: Env) -> None:
    assert isinstance(await env.run(Steps(provider_id="p2", appends=0, fail=True)), ValidationError)
    [(_, record)] = await env.records("Steps")
    assert record.outcome == "failure" and record.error_type == "ValidationError" and record.events == []


async def test_a_multi_step_command_has_one_record_listing_every_append(env: Env) -> None:
    assert await env.run(MultiSteps(provider_id="p3", appends=3)) is None
    [(_, record)] = await env.records("MultiSteps")
    assert record.outcome == "success" and record.events == ["ProviderStateChanged", "ProviderStopped"]
    assert len(await env.store.read_stream("provider:p3")) == 3


async def test_a_multi_step_command_failing_after_appending_has_one_failure_record(env: Env) -> None:
    assert isinstance(await env.run(MultiSteps(provider_id="p4", appends=2, fail=True)), ValidationError)
    [(_, record)] = await env.records("MultiSteps")
    assert record.outcome == "failure" and record.error_type == "ValidationError"
    assert record.events == ["ProviderStateChanged", "ProviderStopped"]


async def test_a_single_step_command_that_appends_again_or_fails_still_has_one_record(env: Env) -> None:
    """Not declared multi-step: its record rode on its first append and stays its only one."""
    assert await env.run(Steps(provider_id="p5", appends=3)) is None
    assert isinstance(await env.run(Steps(provider_id="p6", appends=2, fail=True)), ValidationError)
    records = await env.records("Steps")
    assert len(records) == 2
    assert [r.position for r, _ in records] == [
        (await env.store.read_stream(f"provider:{p}"))[0].position + 1 for p in ("p5", "p6")]
