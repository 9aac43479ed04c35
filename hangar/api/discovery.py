"""``/api/discovery``: sources, scans, and the pending and quarantined providers they found."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter

from hangar.api.deps import Services, command_context, etag
from hangar.api.paging import Cursor, PageLimit, page_rows, paged, wants_page
from hangar.api.preconditions import refuse_existing
from hangar.api.views import redact_env
from hangar.app.discovery import (
    ApproveCandidate,
    DeregisterSource,
    RegisterSource,
    RejectCandidate,
    ScanSource,
    ScanSources,
    UpdateSource,
)
from hangar.app.projections.discovery import CandidateView, SourceView
from hangar.domain.discovery import parse_source_config, redact_config, requires_approval
from hangar.domain.errors import DiscoverySourceNotFoundError, ValidationError
from hangar.domain.provider_spec import PROVIDER_ID_PATTERN

SourceTypeField = Literal["filesystem", "entrypoint", "docker", "kubernetes"]
ModeField = Literal["additive", "authoritative"]
_ID_RE = re.compile(PROVIDER_ID_PATTERN)


class RegisterSourceRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source_type: SourceTypeField | None = None
    type: SourceTypeField | None = None
    """A synonym of ``source_type``, the config file's older name for it."""
    mode: ModeField
    enabled: bool = True
    config: dict[str, Any] = {}
    source_id: str | None = None
    """Optional; generated when left out."""


class UpdateSourceRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: ModeField | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None
    """Replaces the whole config (validated for the source's type)."""


class EnableRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool


class ScanSourcesRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source_ids: list[str] | None = None
    """The sources to scan, in order; left out: every enabled source."""


class RejectRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: str = ""


def _approval(v: SourceView) -> bool:
    try:
        return requires_approval(v.source_type, parse_source_config(v.source_type, v.config))
    except ValidationError:
        return False


def source_body(v: SourceView) -> dict[str, Any]:
    return {
        "source_id": v.source_id, "type": v.source_type, "source_type": v.source_type, "mode": v.mode,
        "enabled": v.enabled, "is_enabled": v.enabled, "config": redact_config(v.config),
        "require_approval": _approval(v), "last_scan": v.last_scan, "last_discovery": v.last_scan,
        "last_error": v.last_error, "error_message": v.last_error, "is_healthy": v.last_error is None,
        "providers_found": v.providers_found, "providers_count": len(v.owned), "pending_count": len(v.pending),
        "quarantined_count": len(v.quarantined), "rejected_count": len(v.rejected), "scans": v.scans,
        "failed_scans": v.failed_scans, "created_at": v.created_at, "updated_at": v.updated_at,
    }


def candidate_body(c: CandidateView) -> dict[str, Any]:
    cand = c.candidate
    connection: dict[str, Any] = {
        k: v for k, v in (("command", cand.command), ("image", cand.image), ("endpoint", cand.endpoint)) if v
    }
    if cand.env:
        connection["env"] = redact_env(cand.env)
    return {
        "name": cand.name, "source": c.source_type, "source_type": c.source_type, "source_id": c.source_id,
        "mode": cand.mode, "description": cand.description, "connection_info": connection,
        "options": cand.options, "metadata": cand.metadata, "origin": cand.origin, "fingerprint": c.fingerprint,
        "discovered_at": c.since, "last_seen_at": c.last_seen_at, "ttl_seconds": None, "is_expired": False,
    }


def _source(services: Services, source_id: str) -> SourceView:
    view = services.discovery_view.get(source_id)
    if view is None:
        raise DiscoverySourceNotFoundError(source_id)
    return view


class DiscoveryController(Controller):
    path = "/api/discovery"
    tags = ["discovery"]

    @get("/sources", summary="List discovery sources")
    async def list_sources(self, services: Services) -> dict[str, Any]:
        views = sorted(services.discovery_view.sources.values(), key=lambda v: v.source_id)
        return {"sources": [source_body(v) for v in views]}

    @post("/sources", status_code=201, summary="Register a discovery source")
    async def register_source(
        self, request: Request, services: Services, data: RegisterSourceRequest
    ) -> Response[dict[str, Any]]:
        if data.source_type and data.type and data.source_type != data.type:
            raise ValidationError(f"source_type '{data.source_type}' and type '{data.type}' disagree")
        source_type = data.source_type or data.type
        if source_type is None:
            raise ValidationError("Object missing required field `source_type`")
        sid = data.source_id or f"{source_type}-{uuid.uuid4().hex[:8]}"
        if not _ID_RE.fullmatch(sid):
            raise ValidationError(f"Invalid source_id '{sid}': use 1-64 letters, digits, '_' or '-'")
        await services.bus.execute(
            RegisterSource(source_id=sid, source_type=source_type, mode=data.mode, enabled=data.enabled,
                           config=data.config),
            command_context(request),
        )
        view = _source(services, sid)
        headers = {"Location": f"/api/discovery/sources/{sid}", "ETag": etag(view.version)}
        return Response({"source_id": sid, "registered": True}, status_code=201, headers=headers)

    @get("/sources/{source_id:str}", summary="One discovery source with its candidates")
    async def get_source(self, services: Services, source_id: str) -> Response[dict[str, Any]]:
        v = _source(services, source_id)
        body = source_body(v) | {
            "pending": sorted(v.pending), "quarantined": sorted(v.quarantined),
            "rejected": sorted(v.rejected), "registered": sorted(v.owned),
        }
        return Response(body, headers={"ETag": etag(v.version)})

    @put("/sources/{source_id:str}", summary="Update a source's mode, enabled flag or config")
    async def update_source(
        self, request: Request, services: Services, source_id: str, data: UpdateSourceRequest | None = None
    ) -> Response[dict[str, Any]]:
        body = data or UpdateSourceRequest()
        refuse_existing(request, source_id in services.discovery_view.sources, f"Source '{source_id}'")
        version = await services.bus.execute(
            UpdateSource(source_id=source_id, mode=body.mode, enabled=body.enabled, config=body.config),
            command_context(request),
        )
        return Response({"source_id": source_id, "updated": True}, headers={"ETag": etag(version)})

    @delete("/sources/{source_id:str}", status_code=200, summary="Deregister a source")
    async def delete_source(self, request: Request, services: Services, source_id: str) -> dict[str, Any]:
        await services.bus.execute(DeregisterSource(source_id=source_id), command_context(request))
        return {"source_id": source_id, "deregistered": True}

    @post("/sources/{source_id:str}/scan", status_code=200, summary="Scan a source now")
    async def scan_source(self, request: Request, services: Services, source_id: str) -> dict[str, Any]:
        _source(services, source_id)
        res = await services.bus.execute(ScanSource(source_id=source_id), command_context(request))
        return {"source_id": source_id, "scan_triggered": True, **msgspec.to_builtins(res)}

    @post("/scan", status_code=200, summary="Scan several sources (default: every enabled one), one by one")
    async def scan_sources(
        self, request: Request, services: Services, data: ScanSourcesRequest | None = None
    ) -> dict[str, Any]:
        ids = data.source_ids if data is not None else None
        res = await services.bus.execute(ScanSources(source_ids=ids), command_context(request))
        return msgspec.to_builtins(res)

    @put("/sources/{source_id:str}/enable", summary="Enable or disable a source")
    async def enable_source(
        self, request: Request, services: Services, source_id: str, data: EnableRequest
    ) -> Response[dict[str, Any]]:
        version = await services.bus.execute(
            UpdateSource(source_id=source_id, enabled=data.enabled), command_context(request)
        )
        return Response({"source_id": source_id, "enabled": data.enabled}, headers={"ETag": etag(version)})

    @get("/pending", summary="Discovered providers waiting for approval")
    async def pending(self, services: Services, limit: PageLimit = None, cursor: Cursor = None) -> dict[str, Any]:
        rows = [
            (v.source_id, name, c)
            for v in sorted(services.discovery_view.sources.values(), key=lambda v: v.source_id)
            for name, c in sorted(v.pending.items())
        ]
        if wants_page(limit, cursor):
            page = page_rows(services.pager, "discovery:pending", rows, lambda r: (r[0], r[1]), limit, cursor)
            return paged({"pending": [candidate_body(r[2]) for r in page.items]}, page)
        return {"pending": [candidate_body(r[2]) for r in rows]}

    @get("/quarantined", summary="Discovered providers that failed vetting, with the reasons")
    async def quarantined(self, services: Services, limit: PageLimit = None, cursor: Cursor = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        rows = [(v.source_id, name, c)
                for v in sorted(services.discovery_view.sources.values(), key=lambda v: v.source_id)
                for name, c in sorted(v.quarantined.items())]
        page = None
        if wants_page(limit, cursor):
            page = page_rows(services.pager, "discovery:quarantined", rows, lambda r: (r[0], r[1]), limit, cursor)
            rows = page.items
        for source_id, name, c in rows:
            key = name if name not in out else f"{name}@{source_id}"
            out[key] = {
                "provider": candidate_body(c), "reason": "; ".join(c.reasons), "reasons": c.reasons,
                "quarantine_time": c.since, "source_id": source_id,
            }
        return {"quarantined": out} if page is None else paged({"quarantined": out}, page)

    @post("/approve/{name:str}", status_code=200, summary="Approve a pending or quarantined provider")
    async def approve(
        self, request: Request, services: Services, name: str,
        source_id: Annotated[str | None, Parameter(query="source_id")] = None,
    ) -> dict[str, Any]:
        res = await services.bus.execute(ApproveCandidate(name=name, source_id=source_id), command_context(request))
        return {"approved": True, "provider": name, "provider_id": res.provider_id, "source_id": res.source_id,
                "status": "registered"}

    @post("/reject/{name:str}", status_code=200, summary="Reject a pending or quarantined provider")
    async def reject(
        self, request: Request, services: Services, name: str,
        source_id: Annotated[str | None, Parameter(query="source_id")] = None,
        data: RejectRequest | None = None,
    ) -> dict[str, Any]:
        reason = data.reason if data else ""
        res = await services.bus.execute(
            RejectCandidate(name=name, source_id=source_id, reason=reason), command_context(request)
        )
        return {"rejected": True, "provider": name, "source_id": res.source_id}
