"""Every route handler the app serves, in one list (the app factory registers exactly these)."""

from __future__ import annotations

from typing import Any

from hangar.api.maintenance import MaintenanceController
from hangar.api.provider_runtime import ProviderRuntimeController, provider_logs_stream
from hangar.api.providers import ProviderController
from hangar.api.system import SystemController
from hangar.api.ws import events_stream, state_stream

ROUTE_HANDLERS: list[Any] = [
    ProviderController,
    ProviderRuntimeController,
    provider_logs_stream,
    SystemController,
    MaintenanceController,
    events_stream,
    state_stream,
]
