"""JSON answers end with a newline, so ``curl`` output leaves the shell prompt on its own line."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send


class JsonNewline:
    """Wraps the app's ASGI handler: appends ``\\n`` to every complete ``application/json`` body
    and corrects its ``content-length``. Streaming bodies of other types pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        json_body = False

        async def wrapped(message: Message) -> None:
            nonlocal json_body
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                json_body = ctype.startswith(b"application/json") and scope.get("method") != "HEAD"
                if json_body:
                    for i, (k, v) in enumerate(headers):
                        if k.lower() == b"content-length":
                            n = int(v)
                            if n == 0:
                                json_body = False
                            else:
                                headers[i] = (k, str(n + 1).encode())
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and json_body and not message.get("more_body", False):
                message = {**message, "body": bytes(message.get("body", b"")) + b"\n"}
            await send(message)

        await self.app(scope, receive, wrapped)
