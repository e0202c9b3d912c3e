"""The rule both Python adapters apply before attaching a token, on top of the
library's own (``Client._origin_allowed``): what requests and httpx would do
with the header afterwards.

- Plain http on port 80 never gets a token: both libraries keep Authorization
  when such a request is redirected to https on port 443 of the same host, which
  is another origin. (Plain http is only ever allowed for loopback hosts.)
- Plain http that an environment proxy (HTTP_PROXY, ALL_PROXY, not bypassed by
  NO_PROXY) would carry never gets a token: the proxy would read it in clear.
  (https goes through a proxy inside a TLS tunnel.)
"""

from __future__ import annotations

import urllib.request
from typing import Optional

from ._client import Client


def may_carry_token(client: Client, scheme: str, host: str, port: Optional[int]) -> bool:
    scheme = scheme.lower()
    if scheme == "http":
        if (port or 80) == 80:
            return False
        proxies = urllib.request.getproxies_environment()
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # untyped in typeshed
        if ("http" in proxies or "all" in proxies) and not bypass(host):
            return False
    return client._origin_allowed(scheme, host, port)
