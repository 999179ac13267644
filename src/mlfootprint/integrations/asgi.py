"""ASGI middleware (FastAPI, Starlette, any ASGI 3 app): energy per request, correct under concurrency.

    app = FastAPI()
    app.add_middleware(FootprintMiddleware, project="digits-api")          # owns a run for the app's life
    app.add_middleware(FootprintMiddleware, run=run)                       # or reports into yours

Every HTTP request is a `request` phase with one item, so `show` gives joules per request; phases the
endpoint opens (`with footprint_run().phase("inference"):`) nest inside it. Requests served at the
same time share each moment's energy by their overlap (see mlfootprint.phases), whether the app is
async or runs sync endpoints in a thread pool (anyio copies the request's context into the thread).
Counts: `requests`, and `errors` for 5xx answers. A run the middleware owns starts at the ASGI
lifespan startup (or the first request) and ends at lifespan shutdown. The middleware never fails a
request: a measuring problem is logged, the request is served.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from ._common import RunHolder

log = logging.getLogger("mlfootprint")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_current: ContextVar[Any] = ContextVar("mlfootprint_asgi_run", default=None)


def footprint_run() -> Any:
    """The run measuring the request being served (inside an endpoint), or None."""
    return _current.get()


class FootprintMiddleware:
    def __init__(self, app: ASGIApp, /, run: Any | None = None, *, phase: str = "request",
                 exclude_paths: tuple[str, ...] = ("/metrics",), **track_kwargs: Any) -> None:
        self.app = app
        self.holder = RunHolder(run, **track_kwargs)
        self.phase = phase
        self.exclude_paths = exclude_paths  # scrapes of the server's own metrics are not requests

    @property
    def run(self) -> Any:
        return self.holder.run

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http" or scope.get("path") in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        if self.holder.run is None:
            self._begin()
        run = self.holder.run
        if run is None:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        token = _current.set(run)
        try:
            with run.phase(self.phase, items=1):
                await self.app(scope, receive, send_status)
        finally:
            _current.reset(token)
            run.count(requests=1, **({"errors": 1} if status >= 500 else {}))

    def _begin(self) -> None:
        try:
            self.holder.begin()
        except Exception as exc:  # a bad setting: serve unmeasured rather than fail requests
            log.warning("mlfootprint: could not start measuring the server (%s); serving unmeasured", exc)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and self.holder.run is None:
                self._begin()
            elif message["type"] == "lifespan.shutdown":
                try:
                    self.holder.end()
                except Exception as exc:
                    log.warning("mlfootprint: stopping the server's run failed (%s)", exc)
            return message
        return wrapped
