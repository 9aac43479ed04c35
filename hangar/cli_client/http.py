"""The HTTP side of the everyday CLI: one small client, and the two ways a command can fail.

Exit codes scripts can rely on: 0 success, 1 the server refused (its contract message is
printed, e.g. ``Provider 'x' not found``), 2 the server could not be reached (or bad usage,
as argparse reports it).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2


class CliFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def add_connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("HANGAR_URL", DEFAULT_URL),
                   help="the running Hangar (env HANGAR_URL; default: %(default)s)")
    p.add_argument("--api-key", default=os.environ.get("HANGAR_API_KEY"),
                   help="API key when auth is on (env HANGAR_API_KEY)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the server's JSON instead of a table")


def unreachable(url: str, exc: Exception) -> CliFailure:
    reason = str(exc) or type(exc).__name__
    return CliFailure(EXIT_UNREACHABLE, f"cannot reach Hangar at {url} ({reason}); is `hangar serve` running?")


class Api:
    def __init__(self, url: str, api_key: str | None, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Api:
        return cls(args.url, args.api_key, args.timeout)

    def ws_url(self, path: str) -> str:
        return ("ws" + self.url[4:] if self.url.startswith("http") else self.url) + path

    def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            r = self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise CliFailure(EXIT_UNREACHABLE, f"Hangar at {self.url} did not answer in time ({exc})") from None
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        try:
            body = r.json()
        except ValueError:
            body = {"message": r.text.strip()}
        if r.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            raise CliFailure(EXIT_REFUSED, f"{message or r.reason_phrase} ({r.status_code})")
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def delete(self, path: str, json: Any = None) -> Any:
        return self.request("DELETE", path, json=json)
