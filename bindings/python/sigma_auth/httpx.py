"""``httpx`` integration: ``httpx.Client(auth=SigmaAuth(client))``.

Attaches ``Authorization: Bearer <token>`` only to requests whose origin
(scheme, host, port) may receive it: the configured Sigma API's, or one listed
in ``Config(allowed_origins=...)`` (and see _origin.py for plain http); httpx
strips it from redirect hops to another origin. When the request that carried our token is answered 401 (not a redirect
target's answer), the client is told that token was refused and the request is
sent once more with a fresh one, if its body can be sent again (no body or
in-memory content; a streamed body is not replayed and the caller gets the 401).
Works with ``httpx.AsyncClient`` too: the token is then fetched in a worker
thread so the event loop never blocks on the network.
"""

from __future__ import annotations

from typing import AsyncGenerator, Generator

import anyio.to_thread
import httpx

from ._client import Client
from ._origin import may_carry_token
from ._token import Token


class SigmaAuth(httpx.Auth):
    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            raise TypeError(f"client must be sigma_auth.Client, not {type(client).__name__}")
        self.client = client

    def _allowed(self, request: httpx.Request) -> bool:
        url = request.url
        return may_carry_token(self.client, url.scheme, url.host, url.port)

    def _attach(self, request: httpx.Request, token: Token) -> None:
        request.headers["Authorization"] = "Bearer " + token.access_token

    def _should_retry(self, request: httpx.Request, response: httpx.Response) -> bool:
        # After redirects, the response is the last hop's: never ours to retry.
        return response.status_code == 401 and response.request is request and _replayable(request)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._allowed(request):
            yield request
            return
        token = self.client.token()
        self._attach(request, token)
        response = yield request
        if self._should_retry(request, response):
            self.client._invalidate_serial(token.serial)
            self._attach(request, self.client.token())
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._allowed(request):
            yield request
            return
        token = await anyio.to_thread.run_sync(self.client.token)
        self._attach(request, token)
        response = yield request
        if self._should_retry(request, response):
            self.client._invalidate_serial(token.serial)
            self._attach(request, await anyio.to_thread.run_sync(self.client.token))
            yield request

    def __repr__(self) -> str:
        return f"<sigma_auth.httpx.SigmaAuth {self.client!r}>"


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)
