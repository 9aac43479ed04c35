"""What each discovery source's ``config`` holds: its scanner's settings (where to look, how to
reach a Docker Engine or a Kubernetes API server), validated here at the edge for the API, the
configuration file and the scanners alike. The domain keeps the dict (``hangar.domain.discovery``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from hangar.domain.discovery import known_type
from hangar.domain.errors import ValidationError

Interval = Annotated[int, msgspec.Meta(ge=1, le=86_400)]


# --- per-type configuration ------------------------------------------------------------------


class _SourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    interval_s: Interval = 60
    """Seconds between periodic scans."""
    require_approval: bool | None = None
    """None: true for docker and kubernetes, false otherwise (``requires_approval``)."""


class FilesystemConfig(_SourceConfig):
    path: Annotated[str, msgspec.Meta(min_length=1)]
    pattern: Annotated[str, msgspec.Meta(min_length=1)] = "*.yaml"
    watch: bool = True
    watch_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 1.0


class EntrypointConfig(_SourceConfig):
    group: Annotated[str, msgspec.Meta(min_length=1)] = "mcp.providers"


class DockerConfig(_SourceConfig):
    base_url: str | None = None
    """Docker Engine address; None: the environment's (DOCKER_HOST or the local socket)."""
    include_stopped: bool = False
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0


class KubernetesConfig(_SourceConfig):
    api_url: str | None = None
    """API server address; None: in-cluster settings, else the kubeconfig file."""
    token: str | None = None
    verify_tls: bool = True
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    """None: all namespaces."""
    kinds: list[Literal["pods", "services"]] = msgspec.field(default_factory=lambda: ["pods", "services"])
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0


SourceConfig = FilesystemConfig | EntrypointConfig | DockerConfig | KubernetesConfig

CONFIG_TYPES: dict[str, type[_SourceConfig]] = {
    "filesystem": FilesystemConfig,
    "entrypoint": EntrypointConfig,
    "docker": DockerConfig,
    "kubernetes": KubernetesConfig,
}

SECRET_CONFIG_KEYS = frozenset({"token"})


def parse_source_config(source_type: str, raw: dict[str, Any]) -> Any:
    """Validate a source's ``config`` for its type; the message names the offending key."""
    known_type(source_type, raw)
    try:
        return msgspec.convert(raw, CONFIG_TYPES[source_type])
    except msgspec.ValidationError as exc:
        text = str(exc).replace("`$.", "`config.").replace("`$`", "`config`")
        raise ValidationError(f"invalid {source_type} source config: {text}") from None


def redact_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in SECRET_CONFIG_KEYS and v else v) for k, v in config.items()}
