"""The everyday ``hangar`` subcommands that drive a running Hangar over HTTP, and the
start-up banner of ``hangar serve``."""
