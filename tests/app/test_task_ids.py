"""Hangar's MCP task ids: reversible to (provider, provider task id), bound to the creator."""

from __future__ import annotations

import pytest

from hangar.app.task_ids import TaskIds, UnknownTaskError


def test_round_trip_for_the_creator_only() -> None:
    ids = TaskIds(b"k" * 32)
    tid = ids.expose("alice", "every.thing", "a/b.c=d")
    assert ids.resolve("alice", tid) == ("every.thing", "a/b.c=d")
    assert TaskIds(b"k" * 32).resolve("alice", tid) == ("every.thing", "a/b.c=d")  # another replica
    for principal, bad in [("bob", tid), ("alice", tid[:-1] + ("A" if tid[-1] != "A" else "B")),
                           ("alice", "nope"), ("alice", "ht1.!!.??.x"), ("alice", "")]:
        with pytest.raises(UnknownTaskError):
            ids.resolve(principal, bad)
    with pytest.raises(UnknownTaskError):
        TaskIds(b"x" * 32).resolve("alice", tid)  # another key (another deployment)
