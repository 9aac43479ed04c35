"""``/api/observability/audit`` and ``/api/observability/security`` (the other observability
routes live in ``hangar/api/observability.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from hangar.api.paging import Cursor, Pager, page_rows, paged
from hangar.app.auth.service import AuthService

Limit = Annotated[int, Parameter(ge=1, le=1000)]
Filter = Annotated[str | None, Parameter(min_length=1, max_length=200)]


class AuditBody(msgspec.Struct):
    records: list[dict[str, Any]]
    total: int


class SecurityBody(msgspec.Struct):
    events: list[dict[str, Any]]
    total: int


class AuditController(Controller):
    path = "/api/observability"
    tags = ["observability"]

    @get("/audit", summary="Audit records of commands, newest first")
    async def audit(
        self,
        auth: AuthService, pager: Pager,
        provider_id: Filter = None,
        event_type: Filter = None,
        principal: Filter = None,
        outcome: Annotated[Literal["success", "failure"] | None, Parameter()] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> AuditBody | dict[str, Any]:
        if cursor is not None:  # newest first: the key is the record's log position, negated
            records, total = auth.audit_log.query(
                provider_id=provider_id, event_type=event_type, principal=principal, outcome=outcome,
                limit=10**9,
            )
            scope = f"audit:{provider_id}:{event_type}:{principal}:{outcome}"
            page = page_rows(pager, scope, records, lambda r: -r.position, limit, cursor)
            return paged({"records": [msgspec.to_builtins(r) for r in page.items], "total": total}, page)
        records, total = auth.audit_log.query(
            provider_id=provider_id, event_type=event_type, principal=principal, outcome=outcome, limit=limit,
        )
        return AuditBody([msgspec.to_builtins(r) for r in records], total)

    @get("/security", summary="Security events (refusals, lockouts, key and role changes), newest first")
    async def security_events(
        self, auth: AuthService, pager: Pager, event_type: Filter = None, limit: Limit = 100, cursor: Cursor = None,
    ) -> SecurityBody | dict[str, Any]:
        if cursor is not None:
            events, total = auth.security_log.query(event_type=event_type, limit=10**9)
            page = page_rows(pager, f"security:{event_type}", events, lambda e: -e["position"],
                             limit, cursor)
            return paged({"events": page.items, "total": total}, page)
        events, total = auth.security_log.query(event_type=event_type, limit=limit)
        return SecurityBody(events, total)
