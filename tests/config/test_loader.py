from __future__ import annotations

import pytest

from hangar.config.loader import ConfigError, parse_config, to_spec


def test_unknown_key_is_named_with_its_path() -> None:
    text = "providers:\n  math:\n    mode: subprocess\n    command: [x]\n    idle_tt1_s: 30\n"
    with pytest.raises(ConfigError, match=r"providers\.math\.idle_tt1_s: unknown field"):
        parse_config(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("servr: {}\n", "servr: unknown field"),
        ("server: {port: 0}\n", "server.port"),
        ("providers:\n  m:\n    mode: subprocess\n    command: [x]\n    idle_ttl_s: soon\n",
         "providers.m.idle_ttl_s"),
        ("providers:\n  m:\n    mode: docker\n", "providers.m: mode 'docker' requires 'image'"),
        ("providers:\n  bad.name:\n    mode: subprocess\n    command: [x]\n", "Invalid provider_id"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_invalid_configs(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert fragment in info.value.message


def test_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATH_CMD", "python3")
    cfg = parse_config(
        "providers:\n  m:\n    mode: subprocess\n    command: ['${MATH_CMD}', '-V']\n"
        "    env: {LEVEL: '${LEVEL:-info}'}\n"
    )
    spec = to_spec(cfg.providers["m"])
    assert spec.command == ["python3", "-V"] and spec.env == {"LEVEL": "info"}
    with pytest.raises(ConfigError, match="UNSET_VAR_X"):
        parse_config("providers:\n  m:\n    mode: subprocess\n    command: ['${UNSET_VAR_X}']\n")


def test_peer_style_command_string_with_args() -> None:
    cfg = parse_config(
        "providers:\n  m:\n    mode: subprocess\n    command: python\n    args: [-m, srv]\n"
    )
    assert to_spec(cfg.providers["m"]).command == ["python", "-m", "srv"]


def test_shipped_config_is_valid() -> None:
    from tests.support import REPO

    cfg = parse_config((REPO / "config" / "hangar.yaml").read_text())
    assert "math" in cfg.providers
