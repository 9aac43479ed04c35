"""Every registered event type survives a write, a store restart and a read back.

Sample values are generated from each event's type annotations, so a new event type is
covered the moment it is added to its area's tuple in the registry.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import msgspec

from hangar.app import codec
from hangar.domain.events import EVENT_TYPES, Event
from hangar.store import create_event_store, migrate


def sample(tp: Any) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin is typing.Annotated:
        return sample(args[0])
    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None) and a is not msgspec.UnsetType]
        return sample(non_none[0])
    if origin is Literal:
        return args[0]
    if origin in (list, tuple, set, frozenset):
        return [sample(args[0])] if args else []
    if origin is dict:
        return {"k": sample(args[1])} if args else {}
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp, include_extras=True)
        return tp(**{f: sample(hints[f]) for f in tp.__struct_fields__})
    if isinstance(tp, type) and issubclass(tp, str):
        members = getattr(tp, "__members__", None)
        return next(iter(members.values())) if members else "x"
    if tp is bool:
        return True
    if tp is int:
        return 3
    if tp is float:
        return 1.5
    if tp is Any:
        return {"any": 1}
    raise AssertionError(f"no sample for {tp!r}")


def test_registry_has_unique_names() -> None:
    names = [t.__name__ for t in EVENT_TYPES]
    assert len(names) == len(set(names))
    assert all(issubclass(t, Event) for t in EVENT_TYPES)


async def test_every_event_type_round_trips_through_a_restarted_store(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    await migrate(url)
    originals = [sample(t) for t in EVENT_TYPES]
    store = create_event_store(url)
    await store.start()
    meta = codec.EventMetadata(correlation_id="c", principal="p")
    for i, event in enumerate(originals):
        await store.append(f"test:{i}", 0, [codec.encode(event, meta)])
    await store.close()

    reopened = create_event_store(url)
    await reopened.start()
    try:
        read = await reopened.read_all(0, limit=len(originals) + 10)
    finally:
        await reopened.close()
    assert [codec.decode(r) for r in read] == originals
    assert [r.event_type for r in read] == [type(e).__name__ for e in originals]
