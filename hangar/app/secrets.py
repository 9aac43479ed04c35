"""Secret env values are sealed before they enter any event, and opened only to start a process.

A value is secret when its name looks secret (``API_TOKEN``, ``DB_PASSWORD``, ...) or when the
definition lists it in ``secret_env``. Sealed values are Fernet tokens prefixed ``enc:v1:``;
the key comes from ``HANGAR_SECRET_KEY`` or a key file created on first use (mode 0600), so the
event store, WebSocket frames, exports and logs only ever carry ciphertext.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from hangar.domain.errors import ValidationError
from hangar.domain.provider_spec import ProviderSpec
from hangar.domain.secrets_policy import (  # noqa: F401 - the policy's functions, re-exported
    REDACTED,
    has_url_password,
    is_secret_value,
    looks_secret,
    mask_url_password,
    url_password_spans,
)

PREFIX = "enc:v1:"
DEFAULT_KEY_FILE = "./data/hangar-secret.key"
SECRET_REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9][A-Za-z0-9_.-]*)\}")
"""``${secret:NAME}``: a reference to the secrets vault, resolved only when a process starts; the
reference itself is not secret, so it is recorded as written."""


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def secret_names(spec: ProviderSpec) -> set[str]:
    declared = set(spec.secret_env)
    return {k for k, v in spec.env.items() if is_secret_value(k, v, declared)} | declared


def redact_env(spec: ProviderSpec) -> dict[str, str]:
    names = secret_names(spec)
    return {k: (REDACTED if (k in names or is_sealed(v)) and not SECRET_REFERENCE.fullmatch(v) else v)
            for k, v in spec.env.items()}


def redact_mapping(env: dict[str, str], declared: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Any env-like mapping as a response or frame may show it."""
    return {k: (REDACTED if is_sealed(v) or is_secret_value(k, v, declared) else v) for k, v in env.items()}


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from the sealing key: every replica sharing the sealing
        key (they must) derives the same one, and it survives restarts."""
        return hmac.new(self._key, b"hangar:" + purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def from_environment(cls, key_file: str | None = None) -> SecretBox:
        env_key = os.environ.get("HANGAR_SECRET_KEY")
        if env_key:
            return cls(env_key.encode())
        path = Path(key_file or os.environ.get("HANGAR_SECRET_KEY_FILE", DEFAULT_KEY_FILE))
        if path.exists():
            return cls(path.read_bytes().strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        # Created exclusively with 0600 so a concurrent first start cannot hand out two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(path.read_bytes().strip())
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return cls(key)

    def seal(self, plaintext: str) -> str:
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, value: str) -> str:
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise ValidationError(
                "a sealed secret cannot be opened with this instance's key (HANGAR_SECRET_KEY)"
            ) from None

    def seal_spec(self, spec: ProviderSpec, previous: ProviderSpec | None = None) -> ProviderSpec:
        """Seal every secret value; a value equal to the previous one keeps its token, so an
        unchanged definition still compares equal and records nothing."""
        names = secret_names(spec)
        if not names:
            return spec
        env = self.seal_env(spec.env, names, previous.env if previous is not None else None)
        return msgspec.structs.replace(spec, env=env)

    def seal_env(
        self, env: dict[str, str], declared: set[str] | frozenset[str] = frozenset(),
        previous: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """``env`` with every secret value (by :func:`is_secret_value`) sealed; used for every
        aggregate that carries an environment (providers, catalog entries)."""
        old = previous or {}
        out: dict[str, str] = {}
        for k, v in env.items():
            if is_sealed(v) or SECRET_REFERENCE.fullmatch(v) or not is_secret_value(k, v, declared):
                out[k] = v  # a secret reference names a secret store entry: nothing to seal
            elif k in old and is_sealed(old[k]) and self._same(old[k], v):
                out[k] = old[k]
            else:
                out[k] = self.seal(v)
        return out

    def open_spec(self, spec: ProviderSpec) -> ProviderSpec:
        if not any(is_sealed(v) for v in spec.env.values()):
            return spec
        return msgspec.structs.replace(spec, env={k: self.open(v) for k, v in spec.env.items()})

    def _same(self, sealed: str, plaintext: str) -> bool:
        try:
            return self.open(sealed) == plaintext
        except ValidationError:
            return False
