"""A throwaway Hangar-like owner of one provider container: ``python -m tests.docker.owner_process``.

Prints the container's name once the provider is ready, then holds it until killed; used to show
what a SIGKILLed Hangar leaves behind and that the next one sweeps it.
"""

from __future__ import annotations

import asyncio
import sys

from hangar.runtime.docker import DockerClient
from hangar.runtime.docker_engine import DockerEngine
from tests.docker.conftest import minimal_server_spec


async def main(provider_id: str) -> None:
    client = DockerClient(provider_id, minimal_server_spec(), engine=DockerEngine())
    await client.start()
    print(client.container_name, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
