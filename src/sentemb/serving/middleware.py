"""ASGI layers in front of the routes: request metrics, API-key check, request body size limit."""

from __future__ import annotations

import hmac
import time

from sentemb.serving.errors import error_response

OPEN_PATHS = ("/health", "/metrics")


class MetricsMiddleware:
    """Counts every HTTP request by route template and status, and times it."""

    def __init__(self, app, metrics, routes: set[str]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            route = path if path in self.routes else "other"  # bounded label set, whatever clients send
            self.metrics.observe_request(route, status, time.perf_counter() - start)


class AuthMiddleware:
    """``/v1/*`` needs ``Authorization: Bearer KEY``; the key is compared in constant time."""

    def __init__(self, app, api_key: str):
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or ()).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            response = error_response(401, "missing API key: send the header 'Authorization: Bearer KEY'",
                                      code="missing_api_key", headers={"WWW-Authenticate": "Bearer"})
        elif not hmac.compare_digest(token.strip(), self.key):
            response = error_response(401, "invalid API key", code="invalid_api_key",
                                      headers={"WWW-Authenticate": "Bearer"})
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)


BODY_TOO_LARGE = "sentemb.body_too_large"  # scope flag: the body grew past the limit while being read


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, by Content-Length or while reading."""

    def __init__(self, app, limit: int, on_reject=None):
        self.app, self.limit, self.on_reject = app, limit, on_reject

    def _response(self):
        if self.on_reject is not None:
            self.on_reject()
        return error_response(413, f"request body larger than {self.limit} bytes; send fewer or shorter inputs "
                                   "per request", code="request_too_large")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._response()(scope, receive, send)
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    scope[BODY_TOO_LARGE] = self.limit
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._response()(scope, receive, send)
