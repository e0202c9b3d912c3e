"""``httpx`` integration: ``httpx.Client(auth=SigmaAuth(client))``.

Attaches ``Authorization: Bearer <token>``; when Sigma answers 401, tells the
client that token was rejected and sends the request once more with a fresh one.
Works with ``httpx.AsyncClient`` too: the token is then fetched in a worker
thread so the event loop never blocks on the network.
"""

from __future__ import annotations

from typing import AsyncGenerator, Generator

import anyio.to_thread
import httpx

from ._client import Client


class SigmaAuth(httpx.Auth):
    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            raise TypeError(f"client must be sigma_auth.Client, not {type(client).__name__}")
        self.client = client

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.client.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.client.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.client.access_token}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await anyio.to_thread.run_sync(lambda: self.client.access_token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.client.invalidate(token)
            fresh = await anyio.to_thread.run_sync(lambda: self.client.access_token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def __repr__(self) -> str:
        return f"<sigma_auth.httpx.SigmaAuth {self.client!r}>"
