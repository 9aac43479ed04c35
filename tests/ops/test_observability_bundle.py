"""The Grafana dashboard and Prometheus alert rules in ``config/observability``: well formed,
wired into docker-compose, and naming only metrics Hangar really exports (``promtool check
rules`` runs too where it is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from hangar.observability.metrics import Metrics
from tests.support import REPO

BUNDLE = REPO / "config" / "observability"
METRIC_RE = re.compile(r"\b(mcp_hangar_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")


def exported() -> set[str]:
    text = Metrics("test").exposition().decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)", text, re.M):
        names.add(name)
        if kind == "histogram":
            names.update(name + s for s in SUFFIXES)
    return names


def unknown_metrics(expr: str, known: set[str]) -> set[str]:
    return {m for m in METRIC_RE.findall(expr) if m not in known}


def test_alert_rules_are_well_formed_and_use_exported_metrics() -> None:
    doc = yaml.safe_load((BUNDLE / "alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert len(rules) >= 8 and len({r["alert"] for r in rules}) == len(rules)
    known = exported()
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["labels"]["severity"] in ("critical", "warning") and r["annotations"]["summary"]
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]
        assert not unknown_metrics(r["expr"], known), (r["alert"], unknown_metrics(r["expr"], known))
    if shutil.which("promtool"):
        res = subprocess.run(["promtool", "check", "rules", str(BUNDLE / "alerts.yml")], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr


def test_grafana_dashboard_is_well_formed_and_uses_exported_metrics() -> None:
    dash = json.loads((BUNDLE / "grafana" / "hangar-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 10
    known = exported()
    for p in panels:
        assert p["type"] in ("timeseries", "stat") and p["title"]
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "prometheus" and t["expr"].count("(") == t["expr"].count(")")
            assert not unknown_metrics(t["expr"], known), (p["title"], unknown_metrics(t["expr"], known))


def test_docker_compose_loads_the_bundle() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    prom = yaml.safe_load((BUNDLE / "prometheus.yml").read_text())
    assert "./config/observability:/etc/prometheus/hangar:ro" in compose["prometheus"]["volumes"]
    assert prom["rule_files"] == ["/etc/prometheus/hangar/alerts.yml"]
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["hangar:8000"]
    mounts = " ".join(compose["grafana"]["volumes"])
    for f in ("datasource.yml", "dashboards.yml", "hangar-dashboard.json"):
        assert f"./config/observability/grafana/{f}" in mounts
        assert (BUNDLE / "grafana" / f).is_file()


@pytest.mark.parametrize("name", ["mcp_hangar_nope_total"])
def test_the_metric_check_catches_a_typo(name: str) -> None:
    assert unknown_metrics(f"rate({name}[5m])", exported()) == {name}
