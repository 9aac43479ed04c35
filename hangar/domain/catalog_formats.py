"""Reading catalog documents in the formats registries publish.

- Hangar's own: ``{"entries": [{name, description, mode, command, image, endpoint, tags, ...}]}``
  (what ``GET /api/catalog`` answers, so a catalog can be copied between instances).
- ToolHive registry: a registry file or API answer (``servers`` / ``remote_servers`` as a map
  or a list, optionally under ``registry``, or one ``server`` / ``remote_server``); entries carry
  ``image``, ``args``, ``env_vars`` (required / secret), ``tools``, ``transport``, ``tags``,
  ``repository_url``; remote ones carry ``url`` and ``headers``.
- The official MCP Registry ``server.json`` (and its API's ``{"server": ...}`` /
  ``{"servers": [...]}`` wrappers): ``packages`` (``registryType``/``registry_type`` npm, pypi,
  oci, with ``identifier``, ``version``, ``transport``, arguments and environment variables) and
  ``remotes``. Both camelCase and snake_case spellings are read.

Everything is validated before anything is imported: one bad item refuses the document.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from hangar.domain.catalog_events import CatalogEntryData, EnvVar
from hangar.domain.errors import ValidationError

FORMATS = ("auto", "hangar", "toolhive", "mcp-registry")
HTTP_TRANSPORTS = ("streamable-http", "sse", "http")
HANGAR_META = "dev.hangar/catalog"
"""Key under a server.json's ``_meta`` where Hangar keeps its full entry, read back on import."""


def _get(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _plain(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def default_provider_id(name: str) -> str:
    """A provider id for an entry name such as ``io.github.user/weather``: its last segment,
    with characters a provider id cannot hold replaced."""
    tail = name.rsplit("/", 1)[-1]
    pid = re.sub(r"[^A-Za-z0-9_-]+", "-", tail).strip("-_")[:64]
    return pid or "provider"


# --- ToolHive ----------------------------------------------------------------------------------


def _toolhive_env(items: Any) -> list[EnvVar]:
    out = []
    for v in items or []:
        if not isinstance(v, dict) or not v.get("name"):
            raise ValidationError("env_vars: every item needs a name")
        out.append(EnvVar(
            name=str(v["name"]), description=str(v.get("description") or ""),
            required=bool(v.get("required", False)), secret=bool(v.get("secret", False)),
            default=None if v.get("default") in (None, "") else str(v["default"]),
        ))
    return out


def toolhive_entry(item: dict[str, Any], name: str | None = None) -> CatalogEntryData:
    name = str(item.get("name") or name or "")
    if not name:
        raise ValidationError("a ToolHive server needs a name")
    meta = {k: item[k] for k in ("metadata", "tier", "status", "target_port", "proxy_port", "title",
                                 "docker_tags", "permissions", "headers", "custom_metadata", "overview", "provenance")
            if item.get(k) not in (None, [], {})}
    url = item.get("url")
    image = item.get("image")
    if not image and not url:
        raise ValidationError(f"ToolHive server '{name}' has neither an image nor a url")
    return CatalogEntryData(
        name=name,
        description=str(item.get("description") or item.get("title") or name),
        mode="docker" if image else "remote",
        image=str(image) if image else None,
        endpoint=None if image else str(url),
        args=_str_list(item.get("args")),
        env_vars=_toolhive_env(item.get("env_vars")),
        tags=_str_list(item.get("tags")),
        tools=_str_list(item.get("tools")),
        transport=item.get("transport") or None,
        repository_url=item.get("repository_url") or None,
        source="toolhive",
        verified=str(item.get("status", "")).lower() == "active",
        metadata=_plain(meta),
    )


def _toolhive_collection(value: Any) -> list[CatalogEntryData]:
    if isinstance(value, dict):
        return [toolhive_entry(_require_map(v, k), k) for k, v in value.items()]
    if isinstance(value, list):
        return [toolhive_entry(_require_map(v, str(i))) for i, v in enumerate(value)]
    return []


def _require_map(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"item {where}: expected an object")
    return value


# --- MCP Registry ------------------------------------------------------------------------------


def _args(items: Any) -> list[str]:
    out: list[str] = []
    for a in items or []:
        if not isinstance(a, dict):
            continue
        value = _get(a, "value", "default")
        if a.get("type") == "named":
            if value is None:
                continue
            out += [str(a.get("name", "")), str(value)]
        elif value is not None:
            out.append(str(value))
    return out


def _registry_env(items: Any) -> list[EnvVar]:
    out = []
    for v in items or []:
        if isinstance(v, dict) and v.get("name"):
            out.append(EnvVar(
                name=str(v["name"]), description=str(v.get("description") or ""),
                required=bool(_get(v, "isRequired", "is_required", default=False)),
                secret=bool(_get(v, "isSecret", "is_secret", default=False)),
                default=None if _get(v, "value", "default") in (None, "") else str(_get(v, "value", "default")),
            ))
    return out


def _package_run(pkg: dict[str, Any]) -> dict[str, Any] | None:
    """How to run one package over stdio, or None for a kind Hangar cannot run."""
    kind = str(_get(pkg, "registryType", "registry_type", default="")).lower()
    ident = str(pkg.get("identifier") or "")
    version = pkg.get("version")
    transport = _get(pkg, "transport", default={})
    ttype = transport.get("type", "stdio") if isinstance(transport, dict) else str(transport)
    if not ident or ttype != "stdio":
        return None
    args = _args(_get(pkg, "runtimeArguments", "runtime_arguments")) + _args(
        _get(pkg, "packageArguments", "package_arguments"))
    env = _registry_env(_get(pkg, "environmentVariables", "environment_variables"))
    if kind == "npm":
        run = {"mode": "subprocess", "command": ["npx", "-y", f"{ident}@{version}" if version else ident]}
    elif kind == "pypi":
        run = {"mode": "subprocess", "command": ["uvx", f"{ident}=={version}" if version else ident]}
    elif kind in ("oci", "docker"):
        tagged = ident if (":" in ident.rsplit("/", 1)[-1] or "@" in ident or not version) else f"{ident}:{version}"
        run = {"mode": "docker", "image": tagged}
    else:
        return None
    return {**run, "args": args, "env_vars": env, "transport": "stdio", "kind": kind}


def registry_entry(server: dict[str, Any]) -> CatalogEntryData:
    name = str(server.get("name") or "")
    if not name:
        raise ValidationError("an MCP Registry server needs a name")
    meta_block = server.get("_meta")
    own = meta_block.get(HANGAR_META) if isinstance(meta_block, dict) else None
    if isinstance(own, dict):  # written by a Hangar: its complete definition
        try:
            return msgspec.convert({**own, "name": name}, CatalogEntryData)
        except msgspec.ValidationError as exc:
            raise ValidationError(f"server '{name}': _meta.{HANGAR_META}: {exc}") from None
    packages = [p for p in server.get("packages") or [] if isinstance(p, dict)]
    remotes = [r for r in server.get("remotes") or [] if isinstance(r, dict)]
    run = next((r for r in map(_package_run, packages) if r is not None), None)
    repo: dict[str, Any] = server["repository"] if isinstance(server.get("repository"), dict) else {}
    fields: dict[str, Any] = {}
    tags: list[str] = []
    if run is not None:
        kind = run.pop("kind")
        fields = run
        tags.append(kind)
    else:
        remote = next((r for r in remotes if str(r.get("type", "")) in HTTP_TRANSPORTS and r.get("url")), None)
        if remote is not None:
            fields = {"mode": "remote", "endpoint": str(remote["url"]), "transport": str(remote["type"]),
                      "env_vars": []}
            tags.append("remote")
    meta = {k: server[k] for k in ("title", "websiteUrl", "website_url", "status") if server.get(k)}
    if remotes:
        meta["remotes"] = remotes
    return CatalogEntryData(
        name=name,
        description=str(server.get("description") or server.get("title") or name),
        version=server.get("version") or None,
        repository_url=repo.get("url") or None,
        tags=tags,
        source="mcp-registry",
        metadata=_plain(meta),
        **fields,
    )


def _unwrap_registry(item: dict[str, Any]) -> dict[str, Any]:
    inner = item.get("server")
    return inner if isinstance(inner, dict) else item


# --- detection ---------------------------------------------------------------------------------


def _is_registry_server(d: dict[str, Any]) -> bool:
    return "packages" in d or "remotes" in d or "$schema" in d


def _hangar_entries(items: Any) -> list[CatalogEntryData]:
    if not isinstance(items, list):
        raise ValidationError("'entries' must be a list")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(msgspec.convert(item, CatalogEntryData))
        except msgspec.ValidationError as exc:
            raise ValidationError(f"entries[{i}]: {exc}") from None
    return out


def detect_format(doc: Any) -> str:
    if isinstance(doc, list):
        if doc and all(isinstance(d, dict) and _is_registry_server(_unwrap_registry(d)) for d in doc):
            return "mcp-registry"
        return "toolhive"
    if not isinstance(doc, dict):
        raise ValidationError("a catalog document must be a JSON/YAML object or list")
    if "entries" in doc:
        return "hangar"
    if isinstance(doc.get("servers"), list) and doc["servers"] and all(
        isinstance(s, dict) and _is_registry_server(_unwrap_registry(s)) for s in doc["servers"]
    ):
        return "mcp-registry"
    if _is_registry_server(_unwrap_registry(doc)):
        return "mcp-registry"
    if any(k in doc for k in ("servers", "remote_servers", "registry", "server", "remote_server", "image", "url")):
        return "toolhive"
    raise ValidationError(
        "unrecognised catalog document: expected Hangar 'entries', a ToolHive registry or an MCP Registry server.json"
    )


def parse_document(doc: Any, fmt: str = "auto") -> tuple[str, list[CatalogEntryData]]:
    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}")
    kind = detect_format(doc) if fmt == "auto" else fmt
    entries: list[CatalogEntryData]
    if kind == "hangar":
        entries = _hangar_entries(doc.get("entries") if isinstance(doc, dict) else doc)
    elif kind == "toolhive":
        if isinstance(doc, list):
            entries = _toolhive_collection(doc)
        else:
            body = doc.get("registry") if isinstance(doc.get("registry"), dict) else doc
            if isinstance(body.get("server"), dict):
                entries = [toolhive_entry(body["server"])]
            elif isinstance(body.get("remote_server"), dict):
                entries = [toolhive_entry(body["remote_server"])]
            elif "image" in body or "url" in body:
                entries = [toolhive_entry(body)]
            else:
                entries = _toolhive_collection(body.get("servers")) + _toolhive_collection(body.get("remote_servers"))
    else:
        items = doc if isinstance(doc, list) else doc.get("servers") if isinstance(doc.get("servers"), list) else [doc]
        entries = [registry_entry(_unwrap_registry(_require_map(s, str(i)))) for i, s in enumerate(items)]
    if not entries:
        raise ValidationError("the document holds no catalog entries")
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"the document names these entries more than once: {', '.join(dupes)}")
    return kind, entries
