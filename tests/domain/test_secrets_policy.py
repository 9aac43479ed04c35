"""The one answer to "does this name hold a secret?", used for sealing, exports, logs and
responses alike."""

from __future__ import annotations

import pytest

from hangar.app.secrets import secret_names
from hangar.config.export import protect
from hangar.domain.provider_spec import ProviderSpec
from hangar.domain.secrets_policy import REDACTED, looks_secret

TABLE = [
    ("API_KEY", True),
    ("SSH_PRIVATE", True),  # key material
    ("SSH_PRIVATE_KEY", True),
    ("GITHUB_PERSONAL_ACCESS_TOKEN", True),
    ("DB_PASSWORD", True),
    ("AUTH_HEADER", True),  # often "Bearer ..." itself
    ("client_secret", True),
    ("TOKEN_FILE", False),  # where the secret is, not the secret
    ("PASSWORD_ENV", False),
    ("admin_key_env", False),
    ("KEY_PATH", False),
    ("OAUTH_CLIENT_ID", False),
    ("PATH", False),
    ("HOME", False),
    ("LOG_LEVEL", False),
]


@pytest.mark.parametrize("name,secret", TABLE)
def test_secret_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


@pytest.mark.parametrize("name,secret", TABLE)
def test_sealing_and_export_agree_with_the_table(name: str, secret: bool) -> None:
    spec = ProviderSpec(mode="subprocess", command=["x"], env={name: "value"})
    assert (name in secret_names(spec)) is secret
    tree = protect({"providers": {"p": {"env": {name: "value"}}}}, "redact", {})
    assert (tree["providers"]["p"]["env"][name] == REDACTED) is secret
