"""Property tests for the two parsers that read text Hangar does not control: the config
loader (any YAML an operator writes) and the stdio JSON-RPC line reader (any bytes a provider
prints). Whatever they are given, the outcome is a clear error (or a log line) and nothing else.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hangar.config.loader import ConfigError, parse_config
from hangar.runtime.process import DEFAULT_STREAM_LIMIT
from hangar.runtime.stdio import StdioClient

SETTINGS = settings(max_examples=150, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
yaml_trees = st.recursive(
    yaml_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["providers", "server", "auth", "mode", "command", "env", "groups", "members",
                         "port", "x", "enabled", "catalog", "config", "runtime"]) | st.text(max_size=8),
        children, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(st.one_of(st.text(max_size=300), yaml_trees.map(lambda t: msgspec.json.encode(t).decode())))
def test_config_loader_gives_a_config_or_a_clear_error(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.message.startswith("fuzz.yaml"), exc.message
        assert exc.status_code == 422


def test_config_loader_survives_deep_nesting_and_aliases() -> None:
    for text in ("[" * 5000 + "]" * 5000, "a: &a [*a]\n", "a: &x [1]\nb: [*x, *x, *x]\n" * 3):
        try:
            parse_config(text, "deep.yaml")
        except ConfigError as exc:
            assert exc.message.startswith("deep.yaml")


SMALL_LIMIT = 64 * 1024


def _client(limit: int) -> StdioClient:
    client = StdioClient("fuzz", ["unused"], stream_limit=limit)
    client._stdout_done = asyncio.Event()
    return client


async def _feed(chunks: list[bytes], limit: int = SMALL_LIMIT) -> tuple[StdioClient, msgspec.Raw]:
    """Feed ``chunks`` (then a valid answer) to the stdout reader; return the answer it resolved."""
    client = _client(limit)
    reader = asyncio.StreamReader(limit=limit)
    fut = client._pending.register(asyncio.get_running_loop(), 424242)
    task = asyncio.create_task(client._read_stdout(reader))
    for chunk in chunks:
        reader.feed_data(chunk)
        await asyncio.sleep(0)
    reader.feed_data(b"\n" + b'{"jsonrpc":"2.0","id":424242,"result":{"ok":true}}\n')
    reader.feed_eof()
    await asyncio.wait_for(task, 10)
    return client, await asyncio.wait_for(fut, 1)


garbage = st.lists(st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"\xff\xfe\xfd", b"\xc3", b'{"jsonrpc":"2.0","id":', b'{"jsonrpc":"2.0","method":"x"',
                     b"\r\n", b"\n", b'{"id":1}\n', b"null\n", b"[1,2\n", b'{"jsonrpc":"2.0","id":"x","result":1}\n']),
), max_size=20)


@SETTINGS
@given(garbage)
def test_line_reader_survives_garbage_and_keeps_its_framing(chunks: list[bytes]) -> None:
    _, answer = asyncio.run(_feed(chunks))
    assert msgspec.json.decode(answer) == {"ok": True}


@pytest.mark.parametrize("limit", [SMALL_LIMIT, DEFAULT_STREAM_LIMIT])
def test_line_reader_handles_a_10_mb_line_with_a_clear_log(limit: int) -> None:
    """Over the stream limit: dropped and said so. Under it: logged, truncated, as a non-JSON line."""
    ten_mb = b'{"jsonrpc":"2.0","id":424242,"result":"' + b"\xff" * (10 * 1024 * 1024)
    client, answer = asyncio.run(_feed([ten_mb + b"\n", b"\xff" * 100 + b"\n"], limit))
    assert msgspec.json.decode(answer) == {"ok": True}
    lines = [e.line for e in client.logs._entries]
    if limit < len(ten_mb):
        assert any("dropped stdout line over" in line for line in lines), lines[:3]
    else:
        assert any("chars truncated" in line for line in lines), [x[:80] for x in lines]
    assert all(len(line) < 100_000 for line in lines)
