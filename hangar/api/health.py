"""``/health/live`` and ``/health/ready``: probes for process supervisors and load balancers.

Both are public (no key): a probe must not need a credential, and they reveal nothing but
whether this instance can serve.
"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get

from hangar.api.deps import StorePort
from hangar.app.projector import Projector

STORE_PROBE_TIMEOUT_S = 2.0


class Probe(msgspec.Struct):
    status: str
    checks: dict[str, bool] = {}


@get("/health/live", summary="The process is up and answering", tags=["system"], sync_to_thread=False)
def live() -> Probe:
    return Probe("ok")


@get("/health/ready", summary="The event store answers and the start-up replay is done", tags=["system"])
async def ready(store: StorePort, projector: Projector) -> Response[Probe]:
    try:
        await asyncio.wait_for(store.last_position(), STORE_PROBE_TIMEOUT_S)
        store_ok = True
    except Exception:
        store_ok = False
    checks = {"store": store_ok, "replayed": projector.replayed}
    ok = all(checks.values())
    return Response(Probe("ready" if ok else "not_ready", checks), status_code=200 if ok else 503)
