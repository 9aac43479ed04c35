"""Shapes that are the same by contract are declared once: a longer shape extends the shorter
one instead of repeating its fields or logic (so the two cannot drift apart)."""

from __future__ import annotations

import msgspec

from hangar.api.views import ProviderDetail
from hangar.app.group_invoke import GroupInvokeResult
from hangar.app.invoke import InvokeResult
from hangar.app.projections.providers import ProviderSummary
from hangar.domain.balancing import LeastConnections, RoundRobin
from hangar.runtime.docker import DockerClient
from hangar.runtime.line_rpc import LineRpcClient
from hangar.runtime.stdio import StdioClient


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(cls))


def test_a_process_and_a_container_share_start_abort_stop_and_loss() -> None:
    for name in ("close", "_abort_start", "_connection_lost", "_crashed", "_tell_exit"):
        assert name in LineRpcClient.__dict__
        assert name not in StdioClient.__dict__ and name not in DockerClient.__dict__


def test_the_longer_bodies_extend_the_shorter_ones_in_field_order() -> None:
    assert issubclass(ProviderDetail, ProviderSummary)
    assert _fields(ProviderDetail)[: len(_fields(ProviderSummary))] == _fields(ProviderSummary)
    assert issubclass(GroupInvokeResult, InvokeResult)
    assert _fields(GroupInvokeResult)[-2:] == ("group_id", "attempts")


def test_least_connections_breaks_ties_by_the_round_robin_rotation() -> None:
    assert issubclass(LeastConnections, RoundRobin) and "_rotated" not in LeastConnections.__dict__
