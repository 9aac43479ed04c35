"""Questions asked of the past: what changed between two points (diff and blame), how one
provider got where it is (history), and what a proposed policy set would have done (what-if).

All of them read the log and fresh read models only; none appends anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from hangar.app import codec, secrets
from hangar.app.auth.projection import AuthProjection
from hangar.app.log.ports import EventQuery, LogStore
from hangar.app.log.timetravel import ReadModels, TimeTravel
from hangar.app.ports import RecordedEvent
from hangar.domain import auth_events as ae
from hangar.domain import events as ev
from hangar.domain.provider_spec import ProviderSpec

BLAME_LIMIT = 50
UNGATED = frozenset({"system", "anonymous"})  # principals the tool gate never applies to


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted paths; lists stay whole (their order is part of the value)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def spec_fields(spec: ProviderSpec) -> dict[str, Any]:
    body = msgspec.to_builtins(spec)
    body["env"] = secrets.redact_env(spec)  # sealed or secret-looking values never shown
    return flatten(body)


def resources(m: ReadModels) -> dict[str, dict[str, Any]]:
    """Every resource of the read models, keyed by the stream that records it."""
    out: dict[str, dict[str, Any]] = {}
    for pid, v in m.providers.views.items():
        fields = {f"spec.{k}": val for k, val in spec_fields(v.spec).items()}
        fields.update(state=v.state, breaker_state=v.breaker_state, tools=[t.name for t in v.visible_tools])
        out[f"provider:{pid}"] = fields
    for gid, g in m.groups.views.items():
        out[f"group:{gid}"] = flatten({"spec": msgspec.to_builtins(g.spec),
                                       "members": msgspec.to_builtins(g.members), "breaker_state": g.breaker_state})
    for eid, e in m.catalog.entries.items():
        out[f"catalog:{eid}"] = flatten({"entry": msgspec.to_builtins(e.entry)})
    for rid, r in m.auth.custom_roles.items():
        out[f"auth:role:{rid}"] = {"description": r.description, "permissions": list(r.permissions)}
    for who, roles in m.auth.assignments.items():
        if roles:
            out[f"auth:principal:{who}"] = {"roles": list(roles)}
    for (p, t), entries in m.auth.policies.items():
        out[f"auth:policy:{p}:{t}"] = {f"entries.{k}": v for k, v in sorted(entries.items())}
    return out


def event_ref(rec: RecordedEvent) -> dict[str, Any]:
    meta = codec.decode_metadata(rec)
    return {"position": rec.position, "event_type": rec.event_type, "event_id": rec.event_id,
            "recorded_at": codec.iso(rec.recorded_at), "principal": meta.principal,
            "correlation_id": meta.correlation_id}


class Insight:
    def __init__(self, store: LogStore, time_travel: TimeTravel) -> None:
        self._store = store
        self._tt = time_travel

    # --- diff and blame ---------------------------------------------------------------------------

    async def diff(self, start: int, end: int, visible: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """``visible``: the resources (by stream id) the reader may see (None: all)."""
        before = resources(await self._tt.at(start))
        after = resources(await self._tt.at(end))
        changes: list[dict[str, Any]] = []
        for key in sorted(before.keys() | after.keys()):
            if visible is not None and not visible(key):
                continue
            a, b = before.get(key), after.get(key)
            if a == b:
                continue
            kind, _, rid = key.partition(":")
            if kind == "auth":  # auth:role:X, auth:principal:X, auth:policy:P:T
                sub, _, rid = rid.partition(":")
                kind = f"auth:{sub}"
            item: dict[str, Any] = {"resource": key, "kind": kind, "id": rid}
            if a is None:
                item["change"] = "created"
            elif b is None:
                item["change"] = "deleted"
            else:
                item["change"] = "changed"
                item["fields"] = {
                    f: {"from": a.get(f), "to": b.get(f)} for f in sorted(a.keys() | b.keys()) if a.get(f) != b.get(f)
                }
            blame = await self._store.read_events(
                EventQuery(after=start, up_to=end, stream_id=key, limit=BLAME_LIMIT)
            )
            item["events"] = [event_ref(r) for r in blame]
            changes.append(item)
        return {"from": start, "to": end, "changes": changes, "total": len(changes)}

    # --- provider history -------------------------------------------------------------------------

    async def provider_history(self, provider_id: str, after_version: int, limit: int) -> list[dict[str, Any]]:
        stream = f"provider:{provider_id}"
        previous: dict[str, Any] = {}
        if after_version:
            # The definition just before the page, so its first update shows what it changed.
            for rec in await self._store.read_stream(stream, 0, after_version):
                e = codec.decode(rec)
                if isinstance(e, ev.ProviderRegistered | ev.ProviderUpdated):
                    previous = spec_fields(e.spec)
        out = []
        for rec in await self._store.read_stream(stream, after_version, limit):
            e = codec.decode(rec)
            entry = {**event_ref(rec), "version": rec.stream_version}
            if isinstance(e, ev.ProviderRegistered | ev.ProviderUpdated):
                now = spec_fields(e.spec)
                entry["kind"] = "definition"
                entry["changes"] = {
                    f: {"from": previous.get(f), "to": now.get(f)}
                    for f in sorted(previous.keys() | now.keys()) if previous.get(f) != now.get(f)
                }
                previous = now
            elif isinstance(e, ev.ProviderDeregistered):
                entry["kind"] = "definition"
                entry["changes"] = {}
            elif isinstance(e, ev.ProviderStateChanged):
                entry.update(kind="state", old_state=e.old_state, new_state=e.new_state)
            else:
                entry["kind"] = "runtime"
            out.append(entry)
        return out

    # --- what-if ------------------------------------------------------------------------------------

    async def simulate(
        self, start: int, end: int, proposed: dict[tuple[str, str], dict[str, str]], replace: bool,
    ) -> dict[str, Any]:
        """Replay the tool calls recorded in (start, end] against the proposed policies.

        The policies in force are folded along the window (a policy changed mid-window counts
        from then on); the proposed entries override them per (provider, tool, principal), or
        replace them all with ``replace``.
        """
        actual = (await self._tt.at(start)).auth
        trial = AuthProjection()
        stale = True
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        after = start
        while after < end:
            batch = await self._store.read_all(after, 5000)
            if not batch:
                break
            for rec in batch:
                if rec.position > end:
                    break
                after = rec.position
                if rec.stream_id.startswith("auth:policy:"):
                    e = codec.decode(rec)
                    actual.apply(rec, e)
                    stale = True
                    continue
                if rec.event_type not in ("ToolInvocationRequested", "ToolAccessDenied"):
                    continue
                e = codec.decode(rec)
                if isinstance(e, ev.ToolInvocationRequested):
                    who = e.principal or codec.decode_metadata(rec).principal or "anonymous"
                    target, tool, group, ran = e.provider_id, e.tool_name, e.group_id, True
                elif isinstance(e, ae.ToolAccessDenied):
                    who, target, tool, group, ran = e.principal_id, e.provider_id, e.tool_name, e.group_id, False
                else:
                    continue
                if stale:
                    trial.policies = _merge(actual.policies, proposed, replace)
                    stale = False
                # As the live gate: the member's policy, then the group's for a call through a group.
                allowed = who in UNGATED or (
                    trial.tool_decision(who, target, tool) is None
                    and (group is None or trial.tool_decision(who, group, tool) is None)
                )
                row = rows.setdefault((who, target, tool), {
                    "principal": who, "provider_id": target, "tool_name": tool, "calls": 0,
                    "newly_denied": 0, "newly_allowed": 0, "denied_positions": [], "allowed_positions": [],
                })
                row["calls"] += 1
                if ran and not allowed:
                    row["newly_denied"] += 1
                    row["denied_positions"].append(rec.position)
                elif not ran and allowed:
                    row["newly_allowed"] += 1
                    row["allowed_positions"].append(rec.position)
            else:
                continue
            break
        results = [rows[k] for k in sorted(rows)]
        return {
            "from": start, "to": end, "replace": replace, "calls": sum(r["calls"] for r in results),
            "newly_denied": sum(r["newly_denied"] for r in results),
            "newly_allowed": sum(r["newly_allowed"] for r in results),
            "by_principal_and_tool": results,
        }

    async def principal_tools(self, principal: str, position: int) -> dict[str, Any]:
        m = await self._tt.at(position)
        tools = []
        for pid, v in sorted(m.providers.views.items()):
            for t in v.visible_tools:
                if principal in UNGATED or m.auth.tool_decision(principal, pid, t.name) is None:
                    tools.append({"provider_id": pid, "tool_name": t.name, "description": t.description})
        return {"principal_id": principal, "as_of": position, "tools": tools, "total": len(tools)}


def _merge(
    current: dict[tuple[str, str], dict[str, str]], proposed: dict[tuple[str, str], dict[str, str]], replace: bool,
) -> dict[tuple[str, str], dict[str, str]]:
    if replace:
        return {k: dict(v) for k, v in proposed.items()}
    merged = {k: dict(v) for k, v in current.items()}
    for k, entries in proposed.items():
        merged.setdefault(k, {}).update(entries)
    return merged
