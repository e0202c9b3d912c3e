"""``requests`` integration: ``session.auth = SigmaAuth(client)``.

Attaches ``Authorization: Bearer <token>``; when Sigma answers 401, tells the
client that token was rejected and sends the request once more with a fresh one
(only when the body can be sent again).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import AuthBase

from ._client import Client

_RETRIED = "_sigma_auth_retried"


class SigmaAuth(AuthBase):
    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            raise TypeError(f"client must be sigma_auth.Client, not {type(client).__name__}")
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.client.access_token}"
        request.register_hook("response", self._retry_once_on_401)  # type: ignore[no-untyped-call]
        return request

    def _retry_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False) or not _replayable(request):
            return response
        rejected = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        self.client.invalidate(rejected)
        response.content  # read it so the connection can be reused  # noqa: B018
        response.close()

        retry = request.copy()
        setattr(retry, _RETRIED, True)
        retry.headers["Authorization"] = f"Bearer {self.client.access_token}"
        connection = response.connection
        new_response: requests.Response = connection.send(retry, **kwargs)
        new_response.history.append(response)
        new_response.request = retry
        return new_response

    def __repr__(self) -> str:
        return f"<sigma_auth.requests.SigmaAuth {self.client!r}>"


def _replayable(request: requests.PreparedRequest) -> bool:
    return request.body is None or isinstance(request.body, (bytes, str))
