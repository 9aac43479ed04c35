"""Reading and validating the YAML file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from hangar.config import peer
from hangar.config.discovery_sources import parse_source_config
from hangar.config.legacy import normalise_peer_discovery
from hangar.config.schema import GroupConfig, HangarConfig, ProviderConfig
from hangar.domain.errors import ValidationError
from hangar.domain.group import check_group_id
from hangar.domain.provider_spec import ProviderSpec, check_provider_id, check_spec, definition_of

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValidationError):
    """The configuration is invalid; the message names every offending key."""


def _interpolate(node: Any, path: str) -> Any:
    if isinstance(node, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            value = os.environ.get(name, default)
            if value is None:
                raise ConfigError(f"{path}: environment variable '{name}' is not set")
            return value

        return _ENV_REF.sub(sub, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]") for i, v in enumerate(node)]
    return node


def _friendly(exc: msgspec.ValidationError, prefix: str = "") -> str:
    # msgspec says "Object contains unknown field `x` - at `$.providers.math`"; operators want
    # the dotted key path first: "providers.math.x: unknown field".
    text = str(exc)
    where, what = "", text
    m = re.match(r"Object contains unknown field `([^`]+)`(?: - at `\$\.?([^`]*)`)?", text)
    if m:
        where, what = ".".join(p for p in (m.group(2) or "", m.group(1)) if p), "unknown field"
    else:
        m = re.match(r"(.*) - at `\$\.?([^`]*)`", text)
        if m:
            where, what = m.group(2), m.group(1)
    path = ".".join(p for p in (prefix, where) if p)
    return f"{path}: {what}" if path else what


MAPPING_SECTIONS: dict[str, type] = {"providers": ProviderConfig, "groups": GroupConfig}


def parse_config(text: str, source: str = "<config>") -> HangarConfig:
    # PyYAML and every walk below recurse: a file nested thousands deep (or an alias that
    # contains itself) is refused as such rather than crashing the caller with RecursionError.
    try:
        return _parse_config(text, source)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply (or an alias refers to itself)") from None


def _parse_config(text: str, source: str) -> HangarConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    raw = _interpolate(raw, "")
    try:
        raw = peer.normalise(raw, frozenset(HangarConfig.__struct_fields__))
    except peer.PeerConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if "discovery" in raw:
        try:
            raw["discovery"] = normalise_peer_discovery(raw["discovery"])
        except ValidationError as exc:
            raise ConfigError(f"{source}: {exc.message}") from None
    # msgspec reports a dict entry as ``providers[...]``; checking mapping sections entry by
    # entry first lets the message name the entry's key.
    for section, entry_type in MAPPING_SECTIONS.items():
        entries = raw.get(section)
        if not isinstance(entries, dict):
            continue
        for name, body in entries.items():
            try:
                msgspec.convert(body, entry_type)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"{source}: {_friendly(exc, f'{section}.{name}')}") from None
    try:
        cfg = msgspec.convert(raw, HangarConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_friendly(exc)}") from None
    for name, pc in cfg.providers.items():
        try:
            check_provider_id(name)
            check_spec(to_spec(pc))
        except ValidationError as exc:
            raise ConfigError(f"{source}: providers.{name}: {exc.message}") from None
    for sid, sc in cfg.discovery.sources.items():
        try:
            check_provider_id(sid)
            parse_source_config(str(sc.source_type), sc.config)
        except ValidationError as exc:
            raise ConfigError(f"{source}: discovery.sources.{sid}: {exc.message}") from None
    for name, gc in cfg.groups.items():
        problem = group_config_problem(name, gc, cfg)
        if problem:
            raise ConfigError(f"{source}: groups.{name}: {problem}")
    return cfg


def group_config_problem(name: str, gc: GroupConfig, cfg: HangarConfig) -> str | None:
    """Why a declared group cannot be applied; its members may be providers created through the
    API, so only their ids' shape is checked here."""
    try:
        check_group_id(name)
    except ValidationError as exc:
        return exc.message
    if name in cfg.providers:
        return "a provider has the same id (groups and providers share the MCP tool namespace)"
    ids = [m.id for m in gc.members]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        return f"members: '{dup}' is listed twice"
    for i, m in enumerate(gc.members):
        try:
            check_provider_id(m.id)
        except ValidationError as exc:
            return f"members[{i}].id: {exc.message}"
    return None


def load_config(path: str | os.PathLike[str] | None) -> HangarConfig:
    if path is None:
        return HangarConfig()
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    return parse_config(text, str(p))




def to_spec(pc: ProviderConfig) -> ProviderSpec:
    command: list[str] | None
    if isinstance(pc.command, str):
        command = [pc.command, *pc.args]
    elif pc.command is not None:
        command = [*pc.command, *pc.args]
    else:
        command = None
    return definition_of(pc, command=command)
