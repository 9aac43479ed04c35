"""``GET /api/cluster`` (who is alive, who leads) and the replicas' internal endpoint.

``POST /internal/cluster/commands`` runs a runtime op (start, stop, call, ... of a provider this
replica owns) on behalf of another replica, as the principal and under the correlation id that
replica sends. It is not behind an API key: it is authenticated by the cluster token alone, and
answers 404 on a replica that is not in a cluster (SQLite).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide

from hangar.api.cluster_proxy import token_matches
from hangar.app.cluster_node import ClusterNode, ClusterView, InstanceView
from hangar.app.cluster_runtime import CLUSTER_TOKEN_HEADER, INTERNAL_COMMANDS_PATH, OpResult, RuntimeOp
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.uptime import Uptime
from hangar.domain.errors import AuthenticationError, NotFoundError, ValidationError


def provide_cluster(state: State) -> ClusterNode | None:
    node: ClusterNode | None = getattr(state, "cluster", None)
    return node


def _node(cluster: ClusterNode | None) -> ClusterNode:
    if cluster is None:
        raise NotFoundError("this Hangar is not part of a cluster (its event store is not PostgreSQL)")
    return cluster


class ClusterController(Controller):
    path = "/api/cluster"
    tags = ["system"]
    dependencies = {"cluster": Provide(provide_cluster, sync_to_thread=False)}

    @get("/", summary="This replica, the leader and the live replicas")
    async def cluster_info(
        self, cluster: Any, providers: ProvidersProjection, instance_id: str, uptime: Uptime
    ) -> ClusterView:
        if cluster is None:
            return single_instance(providers, instance_id, uptime)
        return await _node(cluster).describe()


def single_instance(providers: ProvidersProjection, instance_id: str, uptime: Uptime) -> ClusterView:
    """On SQLite this Hangar is the whole deployment: it leads, and it runs every provider."""
    me = instance_id
    running = sorted(pid for pid, v in providers.views.items() if v.state != "cold")
    return ClusterView(
        instance_id=me, leader=me, generation=0, is_leader=True, mode="single",
        instances=[InstanceView(instance_id=me, address="", started_at=round(time.time() - uptime.seconds(), 3),
                                heartbeat_age_s=0.0, leader=True, providers=running)],
    )


class InternalClusterController(Controller):
    path = INTERNAL_COMMANDS_PATH
    include_in_schema = False
    dependencies = {"cluster": Provide(provide_cluster, sync_to_thread=False)}

    @post("/", status_code=200)
    async def run_op(self, request: Request[Any, Any, Any], cluster: Any) -> OpResult:
        node = _node(cluster)
        if not token_matches(node.token, request.headers.get(CLUSTER_TOKEN_HEADER)):
            raise AuthenticationError("a valid cluster token is required")
        try:
            op = msgspec.json.decode(await request.body(), type=RuntimeOp)
        except msgspec.DecodeError as exc:
            raise ValidationError(f"bad runtime op: {exc}") from None
        if node.runtime is None:
            raise NotFoundError("this replica runs no providers for others yet")
        return await node.runtime.serve(op)
