"""``POST /v1/embeddings`` answered without FastAPI's per-request machinery (routing, dependency solving,
response wrapping): the hot route of a busy server. The body is validated by the same pydantic model and
every error comes in the same OpenAI shape as on the FastAPI route, which stays registered for the OpenAPI
schema and ``/docs``. The layer sits inside the body-limit, API-key and metrics layers."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.requests import Request

from sentemb.serving.errors import APIError, api_error_response, internal_error_response, validation_error
from sentemb.serving.schemas import EmbeddingRequest

log = logging.getLogger("sentemb.serving")
PATH = "/v1/embeddings"


def parse_embedding_request(body: bytes):
    """The validated :class:`EmbeddingRequest` of ``body``; raises :class:`APIError` (422) as the route does."""
    try:
        return EmbeddingRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if errors[0].get("type") == "json_invalid":  # pydantic reports bad UTF-8 as bad JSON: say which
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise APIError(422, "the request body is not valid UTF-8 JSON", code="invalid_json") from None
    raise validation_error(errors)


class EmbeddingsFastPath:
    """ASGI layer: ``POST /v1/embeddings`` goes to ``handle(req, request) -> Response``; the rest to ``app``."""

    def __init__(self, app, handle):
        self.app, self.handle = app, handle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        request = Request(scope, receive, send)
        body = await request.body()  # the body-limit layer stops an over-long body here (413)
        try:
            response = await self.handle(parse_embedding_request(body), request)
        except APIError as exc:
            response = api_error_response(exc)
        except Exception as exc:  # as the app's last-resort handler
            log.exception("unexpected error in %s", PATH)
            response = internal_error_response(exc)
        await response(scope, receive, send)
