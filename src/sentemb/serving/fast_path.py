"""``POST /v1/embeddings`` answered without FastAPI's per-request machinery (routing, dependency solving,
response wrapping): the hot route of a busy server. The body is validated by the same pydantic model and
every error comes in the same OpenAI shape as on the FastAPI route, which stays registered for the OpenAPI
schema and ``/docs``. The layer sits inside the body-limit, API-key and metrics layers."""

from __future__ import annotations

import logging

from sentemb.serving.errors import APIError, error_response, validation_message

log = logging.getLogger("sentemb.serving")
PATH = "/v1/embeddings"


def parse_embedding_request(body: bytes):
    """The validated :class:`EmbeddingRequest` of ``body``; raises :class:`APIError` (422) as the route does."""
    from pydantic import ValidationError

    from sentemb.serving.schemas import EmbeddingRequest

    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise APIError(422, "the request body is not valid UTF-8 JSON", code="invalid_json") from None
    try:
        return EmbeddingRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        message, param = validation_message(errors)
        code = "invalid_json" if errors and errors[0].get("type") == "json_invalid" else "invalid_value"
        raise APIError(422, message, param=param, code=code) from None


class EmbeddingsFastPath:
    """ASGI layer: ``POST /v1/embeddings`` goes to ``handle(req, request) -> Response``; the rest to ``app``."""

    def __init__(self, app, handle):
        self.app, self.handle = app, handle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        from starlette.requests import Request

        request = Request(scope, receive, send)
        body = await request.body()  # the body-limit layer stops an over-long body here (413)
        try:
            response = await self.handle(parse_embedding_request(body), request)
        except APIError as exc:
            response = error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)
        except Exception as exc:  # as the app's last-resort handler: an OpenAI-shaped 500, the server goes on
            log.exception("unexpected error in %s", PATH)
            response = error_response(500, f"internal error: {type(exc).__name__}: {exc}", type="server_error",
                                      code="internal_error")
        await response(scope, receive, send)
