"""The requests and httpx adapters recover from an expired token with one retry."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import requests

import sigma_auth
from sigma_auth.httpx import SigmaAuth as HttpxAuth
from sigma_auth.requests import SigmaAuth as RequestsAuth


def client_for(mock: Any) -> sigma_auth.Client:
    return sigma_auth.Client(sigma_auth.Config(mock.url, "demo-client", "demo-secret"))


def test_requests_adapter_attaches_the_token_and_retries_once_on_401(mock: Any) -> None:
    with client_for(mock) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        assert session.get(f"{mock.url}/v2/whoami").json()["clientId"] == "demo-client"
        mock.expire()
        response = session.get(f"{mock.url}/v2/whoami")
        assert response.status_code == 200
        assert [r.status_code for r in response.history] == [401]
        stats = mock.stats()
        assert stats["whoami_by_status"] == {"200": 2, "401": 1}, "exactly one retry"
        assert stats["token_requests"] == 2


def test_httpx_adapter_retries_once_on_401(mock: Any) -> None:
    with client_for(mock) as client, httpx.Client(auth=HttpxAuth(client)) as http:
        assert http.get(f"{mock.url}/v2/whoami").status_code == 200
        mock.expire()
        response = http.get(f"{mock.url}/v2/whoami")
        assert response.status_code == 200
        assert mock.stats()["whoami_by_status"] == {"200": 2, "401": 1}


def test_httpx_async_adapter_retries_once_on_401(mock: Any) -> None:
    async def run() -> int:
        with client_for(mock) as client:
            async with httpx.AsyncClient(auth=HttpxAuth(client)) as http:
                await http.get(f"{mock.url}/v2/whoami")
                mock.expire()
                response = await http.get(f"{mock.url}/v2/whoami")
                return response.status_code

    assert asyncio.run(run()) == 200
    assert mock.stats()["whoami_by_status"] == {"200": 2, "401": 1}


def test_adapters_of_a_closed_client_fail_with_the_closed_error_and_send_nothing(mock: Any) -> None:
    import pytest

    client = client_for(mock)
    client.close()
    before = len(mock.stats()["recent_api_requests"])
    with pytest.raises(ValueError, match="closed"):
        requests.get(f"{mock.url}/v2/whoami", auth=RequestsAuth(client), timeout=10)
    with pytest.raises(ValueError, match="closed"):
        with httpx.Client(auth=HttpxAuth(client)) as http:
            http.get(f"{mock.url}/v2/whoami")

    async def call() -> None:
        async with httpx.AsyncClient(auth=HttpxAuth(client)) as http:
            await http.get(f"{mock.url}/v2/whoami")

    with pytest.raises(ValueError, match="closed"):
        asyncio.run(call())
    assert len(mock.stats()["recent_api_requests"]) == before, "nothing was sent"
