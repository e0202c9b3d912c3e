"""``requests`` integration: ``session.auth = SigmaAuth(client)``.

Attaches ``Authorization: Bearer <token>`` only to requests whose origin
(scheme, host, port) may receive it: the configured Sigma API's, or one listed
in ``Config(allowed_origins=...)`` (and see _origin.py for plain http). Every
other request goes out untouched, and requests itself strips the header from
redirect hops to another origin. When a
request that carried our token is answered 401, the client is told that token
was refused and the request is sent once more with a fresh one (only when its
body can be sent again: no body, ``bytes`` or ``str``; a streamed body is not
replayed and the caller gets the 401).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import AuthBase
from urllib3.util import parse_url

from ._client import Client
from ._origin import may_carry_token

# Set on the one request we attached our token to. ``PreparedRequest.copy()``
# (which requests uses for every redirect hop) does not copy it, so a hop, and
# a 401 from one, is never taken for ours.
_OURS = "_sigma_auth_serial"
_RETRIED = "_sigma_auth_retried"


class SigmaAuth(AuthBase):
    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            raise TypeError(f"client must be sigma_auth.Client, not {type(client).__name__}")
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self._allowed(request):
            return request
        token = self.client.token()
        request.headers["Authorization"] = "Bearer " + token.access_token
        setattr(request, _OURS, token.serial)
        if self._retry_once_on_401 not in request.hooks["response"]:
            request.register_hook("response", self._retry_once_on_401)  # type: ignore[no-untyped-call]
        return request

    def _allowed(self, request: requests.PreparedRequest) -> bool:
        url = parse_url(request.url or "")
        return may_carry_token(self.client, url.scheme or "", url.host or "", url.port)

    def _retry_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        serial = getattr(request, _OURS, None)
        if (response.status_code != 401 or serial is None or getattr(request, _RETRIED, False)
                or not _replayable(request)):
            return response
        self.client._invalidate_serial(serial)
        response.content  # read it so the connection can be reused  # noqa: B018
        response.close()

        retry = request.copy()
        setattr(retry, _RETRIED, True)
        self(retry)
        new_response: requests.Response = response.connection.send(retry, **kwargs)
        new_response.history.append(response)
        new_response.request = retry
        return new_response

    def __repr__(self) -> str:
        return f"<sigma_auth.requests.SigmaAuth {self.client!r}>"


def _replayable(request: requests.PreparedRequest) -> bool:
    return request.body is None or isinstance(request.body, (bytes, str))
