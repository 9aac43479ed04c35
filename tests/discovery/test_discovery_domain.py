"""The pure parts: reading providers.d definitions and the aggregate's scan planning."""

from __future__ import annotations

import sys

from hangar.discovery.definition import parse_definition
from hangar.discovery.docker import container_candidate
from hangar.discovery.kubernetes import object_candidate
from hangar.domain import discovery_events as dv
from hangar.domain.discovery import DiscoverySource, Vetted, candidate_spec, fingerprint


def source(mode: str = "additive", **config: object) -> DiscoverySource:
    s = DiscoverySource("s1")
    for e in s.register("filesystem", mode, True, {"path": "/x", **config}):
        s.apply(e)
    return s


def vetted(name: str, reasons: list[str] | None = None, **fields: object) -> Vetted:
    c = dv.Candidate(name=name, mode="subprocess", command=[sys.executable], **fields)  # type: ignore[arg-type]
    return Vetted(candidate=c, fingerprint=fingerprint(c), reasons=reasons or [])


def test_providers_d_format_and_create_body_are_both_read() -> None:
    c = parse_definition({"mode": "subprocess", "connection": {"command": "python -m srv", "args": ["-v"],
                                                               "env": {"A": 1}}, "metadata": {"team": "x"}},
                         "weather", "/d/weather.yaml")
    assert c is not None and c.name == "weather" and c.command == ["python", "-m", "srv", "-v"]
    assert c.env == {"A": "1"} and c.metadata == {"team": "x"} and not c.errors
    c = parse_definition({"provider_id": "p", "mode": "remote", "endpoint": "http://h:1/mcp", "idle_ttl_s": 5}, "f", "")
    assert c is not None and c.name == "p" and c.options == {"idle_ttl_s": 5}
    assert candidate_spec(c)[0] is not None
    c = parse_definition({"connection": {"host": "10.0.0.1", "port": 8080}}, "h", "")
    assert c is not None and c.mode == "remote" and c.endpoint == "http://10.0.0.1:8080/mcp"
    assert parse_definition({"enabled": False, "mode": "subprocess"}, "off", "") is None
    c = parse_definition({"mode": "subprocess", "comand": ["x"]}, "typo", "")
    assert c is not None and "unknown field 'comand'" in c.errors
    spec, reasons = candidate_spec(c)
    assert spec is None and any("comand" in r for r in reasons) and any("command" in r for r in reasons)


def test_plan_pending_rejected_owned_and_authoritative_removal() -> None:
    s = source(require_approval=True)
    a, b = vetted("a"), vetted("b", ["command not found: x"])
    plan = s.plan_scan([a, b], set())
    kinds = sorted(type(e).__name__ for e in plan.events)
    assert kinds == ["ProviderDiscovered", "ProviderQuarantined"] and not plan.register
    for e in plan.events:
        s.apply(e)
    assert s.plan_scan([a, b], set()).events == []  # nothing new: nothing recorded
    for e in s.reject("a"):
        s.apply(e)
    assert s.plan_scan([a, b], set()).events == []  # rejected stays rejected
    changed = vetted("a", description="now different")
    assert [type(e).__name__ for e in s.plan_scan([changed, b], set()).events] == ["ProviderDiscovered"]

    auth = source("authoritative", require_approval=False)
    plan = auth.plan_scan([a], set())
    assert [v.candidate.name for v in plan.register] == ["a"]
    for e in auth.approve("a", a.fingerprint, "a", automatic=True):
        auth.apply(e)
    assert auth.plan_scan([a], {"a"}).register == []  # owned and unchanged
    assert auth.plan_scan([], {"a"}).remove == ["a"]
    assert source("additive", require_approval=False).plan_scan([], {"a"}).remove == []


def test_labels_and_annotations_become_candidates() -> None:
    attrs = {"Id": "abc123def4567", "Name": "/weather",
             "Config": {"Image": "weather:1", "Labels": {"mcp.hangar.enabled": "true", "mcp.hangar.port": "8080",
                                                          "mcp.hangar.group": "g"}},
             "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}]}}}
    c = container_candidate(attrs)
    assert c is not None and c.name == "weather" and c.mode == "remote"
    assert c.endpoint == "http://127.0.0.1:49153/mcp" and c.metadata["group"] == "g"
    attrs["Config"]["Labels"] = {"mcp.hangar.enabled": "true", "mcp.hangar.name": "w2"}
    c = container_candidate(attrs)
    assert c is not None and c.mode == "docker" and c.image == "weather:1"
    attrs["Config"]["Labels"] = {"mcp.hangar.enabled": "false"}
    assert container_candidate(attrs) is None

    pod = {"metadata": {"name": "p1", "namespace": "ns", "annotations": {"mcp-hangar.io/enabled": "true",
                                                                          "mcp-hangar.io/port": "9000"}},
           "status": {"phase": "Running", "podIP": "10.1.2.3"}}
    c = object_candidate(pod, "Pod")
    assert c is not None and c.endpoint == "http://10.1.2.3:9000/mcp" and c.origin == "pod ns/p1"
    pod["status"] = {"phase": "Pending"}
    assert object_candidate(pod, "Pod") is None
