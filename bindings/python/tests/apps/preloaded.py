"""A WSGI app as deployed with ``gunicorn --preload``: the client is made (and
its first token fetched) in the master, before the workers are forked. Each
request calls the API (the mock's whoami) with the worker's token."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

import requests

import sigma_auth
from sigma_auth.requests import SigmaAuth

client = sigma_auth.Client(sigma_auth.Config.from_env())
client.token()
session = requests.Session()
session.auth = SigmaAuth(client)
base_url = os.environ["SIGMA_BASE_URL"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    try:
        status = session.get(f"{base_url}/v2/whoami", timeout=10).status_code
        body = f"{os.getpid()} {status}"
    except Exception as error:  # reported to the test, which fails on it
        status, body = 599, f"{os.getpid()} {type(error).__name__}"
    start_response("200 OK" if status == 200 else "500 Internal Server Error", [("content-type", "text/plain")])
    return [body.encode()]
