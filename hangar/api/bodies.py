"""Request bodies decoded straight into the route's msgspec struct.

Litestar decodes a JSON body to dicts and lists first and then converts those into the
handler's ``data`` type as part of its signature model. For a route whose ``data`` is a msgspec
``Struct`` (or ``Struct | None``) this request class decodes the body bytes into that type in
one pass; the signature model then passes the finished struct through untouched.

Errors keep their wording: a body the direct decoder refuses (malformed JSON, a wrong type, a
constraint) is decoded again the framework's way, which raises exactly the error it always
raised, so the 400/422 envelope and message a client sees do not depend on this shortcut.
Both decoders are msgspec with ``strict=False`` (the signature model converts laxly), so a
body either path accepts yields the same struct.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.handlers.base import BaseRouteHandler

# Keyed by the handler's function: its ``data`` annotation decides the decoder, whichever app
# (tests build many) the handler was registered in.
_decoders: dict[Any, msgspec.json.Decoder[Any] | None] = {}


def _struct_type(annotation: Any) -> bool:
    """A Struct, or a union of Structs and None (what a msgspec decoder can take as a whole)."""
    if isinstance(annotation, type):
        return issubclass(annotation, msgspec.Struct)
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return len(members) == 1 and _struct_type(members[0])
    return False


def _decoder_for(handler: BaseRouteHandler) -> msgspec.json.Decoder[Any] | None:
    # Type decoders of a layer take part in the framework's conversion: leave those routes to it.
    if handler.resolve_type_decoders():
        return None
    key = handler.fn
    try:
        return _decoders[key]
    except KeyError:
        pass
    decoder = None
    field = handler.parsed_data_field
    if field is not None and _struct_type(field.annotation):
        decoder = msgspec.json.Decoder(field.annotation, strict=False)
    _decoders[key] = decoder
    return decoder


class StructBodyRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        decoder = _decoder_for(self.route_handler)
        if decoder is not None:
            body = await self.body()
            if body:
                try:
                    return decoder.decode(body)
                except (msgspec.ValidationError, msgspec.DecodeError):
                    pass  # the framework's path below words the error as it always has
        return await super().json()
