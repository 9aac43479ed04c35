"""Adds the everyday subcommands to the ``hangar`` parser and runs them with uniform exit codes."""

from __future__ import annotations

import argparse
import sys

from hangar import cli_log
from hangar.cli_client import discovery, fleet, providers
from hangar.cli_client.http import Api, CliFailure, add_connection_options


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hangar")
    except PackageNotFoundError:
        return "0.0.0"


def run_client(args: argparse.Namespace) -> int:
    try:
        code = args.client_func(args, Api.from_args(args))
    except CliFailure as exc:
        print(f"hangar: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


def add_client_subcommands(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common)
    common.set_defaults(func=run_client)
    providers.register(sub, common)
    fleet.register(sub, common)
    discovery.register(sub, common)
    cli_log.register(sub, common)  # diff, as-of
