"""The ToolHive routes under one router, so their errors take ToolHive's shapes."""

from __future__ import annotations

from litestar import Router

from hangar.api.v1beta.clients import ClientsController, discover_clients
from hangar.api.v1beta.errors import V1BETA_EXCEPTION_HANDLERS
from hangar.api.v1beta.groups import GroupsController
from hangar.api.v1beta.registry import RegistryController
from hangar.api.v1beta.secrets import SecretsController
from hangar.api.v1beta.skills import SkillsController
from hangar.api.v1beta.system import VersionController, health
from hangar.api.v1beta.workloads import WorkloadsController


def toolhive_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            WorkloadsController, GroupsController, ClientsController, discover_clients, SecretsController,
            RegistryController, SkillsController, VersionController, health,
        ],
        exception_handlers=V1BETA_EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
