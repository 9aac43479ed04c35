"""ToolHive's error bodies: a plain-text message with the status code (its handlers write
``http.Error``); the registry routes answer ``{"code", "message"}``. Body and parameter
validation is 400 here, as ToolHive answers it."""

from __future__ import annotations

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from hangar.api.errors import FRAMEWORK_ERRORS, _validation_message
from hangar.domain.errors import HangarError

log = structlog.get_logger("hangar.api.v1beta")

REGISTRY_PREFIX = "/api/v1beta/registry"
CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 503: "unavailable"}


def error_response(request: Request, message: str, status: int) -> Response[bytes]:
    if request.url.path.startswith(REGISTRY_PREFIX):
        body = msgspec.json.encode({"code": CODES.get(status, "error"), "message": message})
        return Response(body, status_code=status, media_type=MediaType.JSON)
    return Response((message + "\n").encode(), status_code=status, media_type=MediaType.TEXT)


def handle_hangar_error(request: Request, exc: HangarError) -> Response[bytes]:
    status = 400 if exc.status_code == 422 else exc.status_code
    if status >= 500:
        log.error("request_failed", error=exc.error_type, message=exc.message)
    return error_response(request, exc.message, status)


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    name = type(exc).__name__
    _, status = FRAMEWORK_ERRORS.get(name, ("", exc.status_code))
    if isinstance(exc, ValidationException):
        return error_response(request, _validation_message(exc), 400)
    return error_response(request, str(exc.detail), status)


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unhandled_error", path=request.url.path)
    return error_response(request, "internal error", 500)


V1BETA_EXCEPTION_HANDLERS = {
    HangarError: handle_hangar_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
