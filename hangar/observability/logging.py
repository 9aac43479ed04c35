"""structlog setup: JSON lines when stderr is not a terminal, readable output when it is."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from hangar.domain.secrets_policy import REDACTED, looks_secret
from hangar.observability.context import add_correlation_id
from hangar.observability.tracing import add_trace_ids


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing: a logger configured while
    it was swapped (a test runner's capture, a CLI redirect) must not keep a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(
            colors=False,
            # Plain tracebacks: rich ones print local variables, which can hold secret values.
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_correlation_id,
            add_trace_ids,
            redact_secrets,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        # Not cached: a reconfiguration (a reload's new level, a test's log capture) reaches
        # loggers that have already been used.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stderr, format="%(message)s")


def redact_secrets(_: object, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A value logged under a secret-looking name, or inside an ``env`` mapping under one, is
    replaced: secrets never reach the logs even when a caller logs a whole definition."""
    for key, value in event_dict.items():
        if isinstance(value, str) and key != "event" and looks_secret(key):
            event_dict[key] = REDACTED
        elif key == "env" and isinstance(value, dict):
            event_dict[key] = {k: (REDACTED if looks_secret(str(k)) else v) for k, v in value.items()}
    return event_dict
