"""Strong ETags and conditional requests for every single resource, in one place.

- The ETag of a resource is its stream's version (``"7"``), read from the stream index that
  every committed event passes through, so any resource with a stream has one.
- ``If-Match`` carries an earlier ETag: the command's repository compares it with the version
  it is about to append at, atomically (``hangar.app.repository``), so a stale tag is a 412
  and nothing is applied.
- ``If-None-Match: *`` on a PUT means create-only: 412 when the resource exists, including
  when a concurrent request created it first. It is also how a client asks a PUT to create:
  without it, a PUT of a missing resource keeps the contract's 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from litestar import Request

from hangar.api.deps import etag
from hangar.app.projections.streams import StreamIndex
from hangar.domain.errors import AlreadyExistsError, PreconditionFailedError

T = TypeVar("T")


def stream_etag(streams: StreamIndex, stream_id: str) -> str:
    return etag(streams.version(stream_id))


def create_only(request: Request) -> bool:
    value = request.headers.get("if-none-match")
    return value is not None and value.strip() == "*"


def refuse_existing(request: Request, exists: bool, what: str) -> None:
    """Before a PUT: ``If-None-Match: *`` refuses an existing resource; ``If-Match`` refuses a
    missing one (there is no version it could match)."""
    if exists and create_only(request):
        raise PreconditionFailedError(f"{what} exists; If-None-Match: * only creates")
    if not exists and request.headers.get("if-match") not in (None, "*"):
        raise PreconditionFailedError(f"{what} does not exist; If-Match names a version it never had")


async def create_guarded(request: Request, what: str, create: Callable[[], Awaitable[T]]) -> T:
    """Run a create for a PUT; under ``If-None-Match: *`` losing a race to another creator is
    the precondition failing (412), not a conflict (409)."""
    try:
        return await create()
    except AlreadyExistsError:
        if create_only(request):
            raise PreconditionFailedError(f"{what} exists; If-None-Match: * only creates") from None
        raise
