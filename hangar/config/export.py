"""Rendering a configuration (the file, or Hangar's current state) as the YAML the loader reads.

One renderer serves export, ``GET /api/config`` and the diff, so two renderings differ only
where the configurations differ. Secret values never leave through it: ``redact`` shows
``***``, ``reference`` (export) writes an environment reference such as ``${API_TOKEN}`` that
the loader interpolates when the file is loaded again.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

import msgspec
import yaml

from hangar.config.schema import HangarConfig
from hangar.domain.provider_spec import ProviderSpec
from hangar.domain.secrets_policy import REDACTED, looks_secret, mask_url_password

CHANGED = "*** (changed)"

SecretMode = Literal["redact", "reference", "raw"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Sections rendered from Hangar's state rather than from the settings of the file.
STATE_SECTIONS = ("providers",)


def _without_defaults(value: Any, default: Any) -> Any:
    """The parts of ``value`` that differ from ``default`` (both plain data); ``...`` if none."""
    if isinstance(value, dict) and isinstance(default, dict):
        out = {}
        for k, v in value.items():
            sub = _without_defaults(v, default.get(k, ...)) if k in default else v
            if sub is not ...:
                out[k] = sub
        return out or ...
    return ... if value == default else value


_SPEC_DEFAULTS: dict[str, Any] = msgspec.to_builtins(ProviderSpec(mode="subprocess"))


def provider_entry(spec: ProviderSpec) -> dict[str, Any]:
    """A provider as the config file writes it: ``mode`` plus every non-default field."""
    plain: dict[str, Any] = msgspec.to_builtins(spec)
    out: dict[str, Any] = {"mode": plain.pop("mode")}
    for k, v in plain.items():
        if v != _SPEC_DEFAULTS.get(k):
            out[k] = v
    return out


def settings_tree(cfg: HangarConfig) -> dict[str, Any]:
    """Every settings section of ``cfg`` that differs from the defaults, non-default keys only."""
    plain: dict[str, Any] = msgspec.to_builtins(cfg)
    defaults: dict[str, Any] = msgspec.to_builtins(HangarConfig())
    out: dict[str, Any] = {}
    for section, value in plain.items():
        if section in STATE_SECTIONS or not isinstance(value, dict) or section not in defaults:
            continue
        if not isinstance(defaults[section], dict) or not defaults[section]:
            continue  # a mapping of resources (like providers), rendered from state
        sub = _without_defaults(value, defaults[section])
        if sub is not ...:
            out[section] = sub
    return out


def build_tree(
    settings: HangarConfig,
    providers: Mapping[str, ProviderSpec],
    resources: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole configuration as plain data: settings, providers, then other resource sections
    (groups, discovery sources …) already in their config-file shape."""
    tree = settings_tree(settings)
    tree["providers"] = {pid: provider_entry(providers[pid]) for pid in sorted(providers)}
    for section, entries in (resources or {}).items():
        tree[section] = {k: entries[k] for k in sorted(entries)}
    return tree


# --- secrets --------------------------------------------------------------------------------------


def _reference(path: str, key: str, value: str, refs: Mapping[str, str]) -> str:
    ref = refs.get(path)
    if ref is not None and _interpolates_to(ref, value):
        return ref
    if path.split(".")[-2:-1] == ["env"]:
        return "${" + key + "}"
    return "${HANGAR_" + re.sub(r"[^A-Za-z0-9]+", "_", path).upper().strip("_") + "}"


def _interpolates_to(ref: str, value: str) -> bool:
    def sub(m: re.Match[str]) -> str:
        found = os.environ.get(m.group(1), m.group(2))
        return "\0" if found is None else found

    return _ENV_REF.sub(sub, ref) == value


def protect(
    tree: Any, mode: SecretMode, refs: Mapping[str, str] | None = None, path: str = "",
    secret_paths: Collection[str] = (),
) -> Any:
    """A copy of ``tree`` in which no secret value appears (``raw`` keeps them: diff only).
    ``secret_paths`` are dotted paths secret whatever their key (a provider's ``secret_env``)."""
    if mode == "raw":
        return tree
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(v, str) and (looks_secret(str(k)) or sub in secret_paths):
                out[k] = REDACTED if mode == "redact" else _reference(sub, str(k), v, refs or {})
            else:
                out[k] = protect(v, mode, refs, sub, secret_paths)
        return out
    if isinstance(tree, list):
        return [protect(v, mode, refs, f"{path}[{i}]", secret_paths) for i, v in enumerate(tree)]
    if isinstance(tree, str):
        return mask_url_password(tree)
    return tree


def protect_pair(a: Any, b: Any, path: str = "", secret_paths: Collection[str] = ()) -> tuple[Any, Any]:
    """Mask secrets on both sides of a diff: ``***`` where they agree, ``*** (changed)`` on the
    second side where they do not, so a changed secret shows without showing the secret."""
    if isinstance(a, dict) and isinstance(b, dict):
        oa: dict[str, Any] = {}
        ob: dict[str, Any] = {}
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else str(k)
            secret = looks_secret(str(k)) or sub in secret_paths
            if k in a and k in b:
                if secret and isinstance(a[k], str) and isinstance(b[k], str):
                    oa[k] = REDACTED
                    ob[k] = REDACTED if a[k] == b[k] else CHANGED
                else:
                    oa[k], ob[k] = protect_pair(a[k], b[k], sub, secret_paths)
            elif k in a:
                oa[k] = protect({k: a[k]}, "redact", path=path, secret_paths=secret_paths)[k]
            else:
                ob[k] = protect({k: b[k]}, "redact", path=path, secret_paths=secret_paths)[k]
        return oa, ob
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = [protect_pair(x, y, f"{path}[{i}]", secret_paths) for i, (x, y) in enumerate(zip(a, b, strict=True))]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return (protect(a, "redact", path=path, secret_paths=secret_paths),
            protect(b, "redact", path=path, secret_paths=secret_paths))


# --- text -----------------------------------------------------------------------------------------


def to_yaml(tree: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(tree), sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


def unified_diff(
    on_disk: Mapping[str, Any], in_memory: Mapping[str, Any], secret_paths: Collection[str] = ()
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(diff, on_disk, in_memory)`` with secrets masked on both sides."""
    disk, mem = protect_pair(dict(on_disk), dict(in_memory), secret_paths=secret_paths)
    lines = difflib.unified_diff(
        to_yaml(disk).splitlines(keepends=True), to_yaml(mem).splitlines(keepends=True),
        fromfile="on-disk", tofile="in-memory",
    )
    return "".join(lines), disk, mem


def env_references(text: str) -> dict[str, str]:
    """Dotted paths of the values that the raw file writes with ``${VAR}`` references, so an
    export can keep referring to the same variables instead of exposing their values."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    refs: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str) and "${" in node:
            refs[path] = node

    walk(raw, "")
    return refs
