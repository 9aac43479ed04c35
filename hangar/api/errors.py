"""The one place errors become responses, always in the contract's envelope.

``{"error": "<Type>", "message": "...", "status_code": N}``
"""

from __future__ import annotations

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from hangar.domain.errors import HangarError

log = structlog.get_logger("hangar.api")


class ErrorBody(msgspec.Struct):
    error: str
    message: str
    status_code: int


# Framework exceptions by class name → (error type shown to clients, status code).
# Validation of bodies and parameters is 422 throughout, as the contract documents for
# compaction; only a body that is not JSON at all is a plain 400.
FRAMEWORK_ERRORS: dict[str, tuple[str, int]] = {
    "ValidationException": ("ValidationError", 422),
    "NotFoundException": ("NotFound", 404),
    "MethodNotAllowedException": ("MethodNotAllowed", 405),
    "NotAuthorizedException": ("Unauthorized", 401),
    "PermissionDeniedException": ("Forbidden", 403),
    "TooManyRequestsException": ("TooManyRequests", 429),
    "ClientException": ("BadRequest", 400),
    "ImproperlyConfiguredException": ("InternalError", 500),
}


def envelope(error: str, message: str, status_code: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(ErrorBody(error=error, message=message, status_code=status_code)),
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


# --- /registry/{name}/v0.1: the registry API's own bodies --------------------------------------
# The skills extension answers ``{"error": "..."}``; the servers routes the reference's
# ``{"code", "message"}``. Parameter validation there is a 400, as those documents say.


def registry_body(path: str, error: str, message: str, status_code: int,
                  headers: dict[str, str] | None = None) -> Response[bytes] | None:
    if not path.startswith("/registry/"):
        return None
    status = 400 if status_code == 422 else status_code
    body: dict[str, str] = (
        {"error": message} if "/x/dev.toolhive/skills" in path
        else {"code": error, "message": message}
    )
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=MediaType.JSON,
                    headers=headers)


def _validation_message(exc: ValidationException) -> str:
    parts = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key, msg, source = item.get("key"), item.get("message"), item.get("source")
            if msg == f"'{key}'":  # Litestar's wording for a missing body
                msg = "a JSON body is required"
            where = f"{source}.{key}" if source and key and source != "body" else key
            if source == "body" and key == "data":
                where = "body"
            parts.append(f"{where}: {msg}" if where else str(msg))
    return "; ".join(parts) or str(exc.detail)


def handle_hangar_error(request: Request, exc: HangarError) -> Response[bytes]:
    if exc.status_code >= 500:
        log.error("request_failed", error=exc.error_type, message=exc.message)
    reg = registry_body(request.url.path, exc.error_type, exc.message, exc.status_code,
                        getattr(exc, "headers", None))
    if reg is not None:
        return reg
    return envelope(exc.error_type, exc.message, exc.status_code, getattr(exc, "headers", None))


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    name = type(exc).__name__
    error, status = FRAMEWORK_ERRORS.get(name, (name.removesuffix("Exception") or "Error", exc.status_code))
    if isinstance(exc, ValidationException):
        message = _validation_message(exc)
    else:
        message = str(exc.detail)
        if name == "ClientException" and message.startswith("JSON is malformed"):
            error = "BadRequest"
    headers = dict(exc.headers) if exc.headers else None
    return registry_body(request.url.path, error, message, status, headers) or envelope(error, message, status, headers)


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unhandled_error", path=request.url.path)
    return registry_body(request.url.path, "InternalError", "internal error", 500) or envelope(
        "InternalError", "internal error", HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS = {
    HangarError: handle_hangar_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
