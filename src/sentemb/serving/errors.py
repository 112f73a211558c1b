"""Errors in the OpenAI shape ``{"error": {"message", "type", "param", "code"}}`` and the handlers that
turn every failure (validation, bad JSON, unknown route, model failure) into one."""

from __future__ import annotations

import json

INVALID = "invalid_request_error"


class APIError(Exception):
    """An error answered to the client with ``status`` and the OpenAI error body."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = INVALID, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type
        self.headers = headers


def error_body(message: str, type: str = INVALID, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, message: str, type: str = INVALID, param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def _param(loc) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def validation_message(errors: list[dict]) -> tuple[str, str | None]:
    """One readable line for pydantic's errors, and the field it names."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return f"the request body is not valid JSON ({detail})".replace(" ()", ""), None
    param = _param(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        msg = "this field is required"
    extra = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    return (f"{param}: {msg}{extra}" if param else msg + extra), param


def validation_error(errors: list[dict]) -> APIError:
    """The 422 for pydantic's errors of a request body (code ``invalid_json`` when it is not JSON)."""
    message, param = validation_message(errors)
    code = "invalid_json" if errors and errors[0].get("type") == "json_invalid" else "invalid_value"
    return APIError(422, message, param=param, code=code)


def api_error_response(exc: APIError):
    return error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)


def internal_error_response(exc: Exception):
    """The last-resort answer to an unexpected exception: an OpenAI-shaped 500, and the server goes on."""
    return error_response(500, f"internal error: {type(exc).__name__}: {exc}", type="server_error",
                          code="internal_error")


def install_handlers(app) -> None:
    """Every error the app can raise answers in the OpenAI shape (never a bare 500 traceback)."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    @app.exception_handler(APIError)
    async def _api_error(request, exc: APIError):
        return api_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        return api_error_response(validation_error(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(request, exc: HTTPException):
        limit = request.scope.get("sentemb.body_too_large")
        if limit is not None:  # the body limit stopped the read part-way (no Content-Length given)
            return error_response(413, f"request body larger than {limit} bytes; send fewer or shorter inputs "
                                       "per request", code="request_too_large")
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's answer to a body it cannot decode (invalid UTF-8): a validation error like bad JSON
            return error_response(422, "the request body is not valid UTF-8 JSON", code="invalid_json")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, message, code="not_found" if exc.status_code == 404 else None,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):
        return internal_error_response(exc)
