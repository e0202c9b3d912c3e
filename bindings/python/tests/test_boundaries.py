"""Tokens go only where they belong and secrets never come back out: redirects
to another host, servers echoing what they were sent in any encoding, and
tracebacks formatted with their locals."""

from __future__ import annotations

import asyncio
import base64
import re
import sys
import traceback
import urllib.parse
from typing import Any, Callable

import httpx
import pytest
import requests

import sigma_auth
from sigma_auth import Client, Config, Secret
from sigma_auth.httpx import SigmaAuth as HttpxAuth
from sigma_auth.requests import SigmaAuth as RequestsAuth

ID = "cid1"
SECRET = "Xy9/kQ+zR=s3cr3t&a b"


def reveals(text: str, secret: str) -> bool:
    """Whether ``text`` gives ``secret`` away raw, URL-decoded (once or twice) or
    inside base64 (either alphabet, any alignment): an oracle independent of the
    library's scrubber."""
    def unquote(s: str) -> str:
        return urllib.parse.unquote_plus(s)

    candidates = [text, unquote(text), unquote(unquote(text))]
    for run in re.findall(r"[A-Za-z0-9+/_=-]{8,}", text):
        run = run.rstrip("=")
        for skip in range(4):
            part = run[skip:]
            part = part[: len(part) - 1] if len(part) % 4 == 1 else part
            padded = part + "=" * (-len(part) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    plain = decode(padded).decode("utf-8", "replace")
                except ValueError:
                    continue
                candidates += [plain, unquote(plain)]
    return any(secret in c for c in candidates)


def test_the_oracle_sees_through_encodings() -> None:
    form = urllib.parse.quote_plus(SECRET)
    assert reveals(base64.b64encode(f"{ID}:{form}".encode()).decode(), SECRET)
    assert reveals(urllib.parse.quote(form), SECRET)
    assert not reveals("Sigma refused the client credentials: [redacted]", SECRET)


@pytest.fixture
def two_hosts(start_mock: Any) -> tuple[Any, Any]:
    """The API on 127.0.0.1, and another host on 127.0.0.2."""
    return start_mock(), start_mock("--host", "127.0.0.2")


def assert_never_saw_a_token(other: Any, token: str) -> None:
    for seen in other.stats()["recent_api_requests"]:
        for name, value in seen["headers"]:
            assert name.lower() != "authorization", seen
            assert token not in value, seen


def redirect_url(api: Any, other: Any, status: int, target: str) -> str:
    location = urllib.parse.quote(f"{other.url}{target}", safe="")
    return f"{api.url}/v2/redirect?status={status}&location={location}"


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("target", ["/v2/echo", "/v2/echo?status=401"])  # 200, or 401 at the other host
def test_requests_never_sends_the_token_to_another_host(two_hosts: tuple[Any, Any], status: int,
                                                         target: str) -> None:
    api, other = two_hosts
    with Client(Config(api.url, "demo-client", "demo-secret")) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        response = session.post(redirect_url(api, other, status, target), data=b"payload")
        assert response.url.startswith(other.url)
        assert response.status_code == (401 if "401" in target else 200)
        assert_never_saw_a_token(other, client.access_token)
        assert api.token_requests() == 1, "a 401 from the other host invalidated nothing"
        # Sent straight to the other host, a request gets no token either.
        assert session.get(f"{other.url}/v2/echo").status_code == 200
        assert_never_saw_a_token(other, client.access_token)


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("target", ["/v2/echo", "/v2/echo?status=401"])
def test_httpx_never_sends_the_token_to_another_host(two_hosts: tuple[Any, Any], status: int, target: str) -> None:
    api, other = two_hosts
    with Client(Config(api.url, "demo-client", "demo-secret")) as client:
        with httpx.Client(auth=HttpxAuth(client), follow_redirects=True) as http:
            response = http.post(redirect_url(api, other, status, target), content=b"payload")
            assert str(response.url).startswith(other.url)
        async def run() -> int:
            async with httpx.AsyncClient(auth=HttpxAuth(client), follow_redirects=True) as http:
                return (await http.post(redirect_url(api, other, status, target), content=b"payload")).status_code

        assert asyncio.run(run()) == (401 if "401" in target else 200)
        assert_never_saw_a_token(other, client.access_token)
        assert api.token_requests() == 1


def test_an_allowed_origin_gets_the_token(two_hosts: tuple[Any, Any]) -> None:
    api, other = two_hosts
    config = Config(api.url, "demo-client", "demo-secret", allowed_origins=[other.url])
    with Client(config) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        echoed = session.get(f"{other.url}/v2/echo").json()["headers"]
        assert ["authorization", f"Bearer {client.access_token}"] in echoed
    with pytest.raises(sigma_auth.InsecureURL):
        Config(api.url, "a", "b", allowed_origins=["http://example.com"])
    with pytest.raises(sigma_auth.InvalidArgument):
        Config(api.url, "a", "b", allowed_origins=["https://example.com/path"])
    with pytest.raises(TypeError):
        Config(api.url, "a", "b", allowed_origins="https://example.com")


def test_a_401_is_retried_at_most_once_per_request(mock: Any) -> None:
    with Client(Config(mock.url, "demo-client", "demo-secret")) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        client.token()
        for _ in range(3):
            mock.expire()
            assert session.get(f"{mock.url}/v2/whoami").status_code == 200
        assert mock.stats()["whoami_by_status"] == {"200": 3, "401": 3}
        # An endpoint that refuses every token: one retry, then the caller sees the 401.
        assert session.get(f"{mock.url}/v2/echo?status=401").status_code == 401
        with httpx.Client(auth=HttpxAuth(client)) as http:
            assert http.get(f"{mock.url}/v2/echo?status=401").status_code == 401
        seen = [r for r in mock.stats()["recent_api_requests"] if r["path"] == "/v2/echo"]
        assert len(seen) == 4


FIELDS = ["message", "requestId", "code", "error_description"]
ENCODINGS = ["raw", "form", "percent", "base64", "base64url", "base64nopad"]


def error_texts(error: sigma_auth.SigmaAuthError) -> list[str]:
    return [str(error), repr(error), error.message, error.request_id or ""]


@pytest.mark.parametrize("basic_auth", [False, True])
def test_a_server_echoing_the_secret_never_gets_it_into_an_exception(start_mock: Any, basic_auth: bool) -> None:
    mock = start_mock("--client-id", ID, "--client-secret", SECRET)
    config = Config(mock.url, ID, SECRET, basic_auth=basic_auth, max_attempts=1)
    for field in FIELDS:
        for what in ["secret", "body", "authorization"]:
            for encoding in ENCODINGS:
                mock.faults({"kind": "echo", "field": field, "what": what, "encoding": encoding})
                with pytest.raises(sigma_auth.InvalidClient) as caught:
                    sigma_auth.get_token(config)
                for text in error_texts(caught.value):
                    assert not reveals(text, SECRET), (field, what, encoding, text)


def test_a_server_echoing_the_refresh_token_never_gets_it_into_an_exception(mock: Any) -> None:
    config = Config(mock.url, "demo-client", "demo-secret")
    refresh = sigma_auth.get_token(config).refresh_token
    assert refresh is not None
    for field in FIELDS:
        for encoding in ENCODINGS:
            mock.faults({"kind": "echo", "field": field, "what": "refresh_token", "encoding": encoding})
            with pytest.raises(sigma_auth.SigmaAuthError) as caught:
                sigma_auth.refresh_token(config, refresh)
            for text in error_texts(caught.value):
                assert not reveals(text, refresh), (field, encoding, text)


def formatted_with_locals(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception:
        info = sys.exc_info()
        assert info[0] is not None and info[1] is not None
        return "".join(traceback.TracebackException(info[0], info[1], info[2], capture_locals=True).format())
    raise AssertionError("expected an exception")


def test_tracebacks_with_locals_show_no_secret_or_token(mock: Any) -> None:
    client = Client(Config(mock.url, "demo-client", "demo-secret"))
    token = client.token()
    refresh = token.refresh_token
    assert refresh is not None
    hidden = ["demo-secret", SECRET, token.access_token, refresh]
    failing: list[Callable[[], object]] = [
        lambda: Config("aws-mars", ID, SECRET),  # refused by the library
        lambda: Config(mock.url, ID, SECRET + "\0"),  # refused before it
        lambda: Config(mock.url, ID, Secret(SECRET), timeout=-1),
        lambda: sigma_auth.get_token(Config(mock.url, "demo-client", SECRET)),  # wrong secret: 401
        lambda: sigma_auth.refresh_token(Config(mock.url, "demo-client", "demo-secret"), refresh + "\0"),
        lambda: client.invalidate(token.access_token + "\0"),
        lambda: sigma_auth.refresh_token(Config(mock.url, "demo-client", "demo-secret"), "x" * 20000),
    ]
    for call in failing:
        text = formatted_with_locals(call)
        for secret in hidden:
            if secret in text:
                # The test's own frame holds them as constants in closures: only
                # frames of the library must not.
                library = text.split("sigma_auth/", 1)[-1]
                assert secret not in library, text
    client.close()


def test_secret_redacts_every_text_form_and_refuses_pickling() -> None:
    import pickle

    secret = Secret(SECRET)
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret:>20}" == "[redacted]"
    assert secret.reveal() == SECRET and Secret(secret).reveal() == SECRET
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_plain_http_on_port_80_never_gets_a_token(start_mock: Any) -> None:
    # requests and httpx keep Authorization on an http:80 -> https:443 redirect
    # of the same host (another origin), so such an origin never gets a token.
    from sigma_auth._origin import may_carry_token

    mock = start_mock()
    with Client(Config(mock.url, "demo-client", "demo-secret", allowed_origins=["http://127.0.0.1"])) as client:
        assert client._origin_allowed("http", "127.0.0.1", None), "the library itself allows it"
        assert not may_carry_token(client, "http", "127.0.0.1", None)
        assert not may_carry_token(client, "http", "127.0.0.1", 80)
        port = int(mock.url.rsplit(":", 1)[1])
        assert may_carry_token(client, "http", "127.0.0.1", port)
    try:
        on_80 = start_mock("--host", "127.0.0.3", "--port", "80")
    except Exception:
        pytest.skip("cannot listen on port 80 here")
    with Client(Config(on_80.url, "demo-client", "demo-secret")) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        assert session.get(f"{on_80.url}/v2/echo").status_code == 200
        with httpx.Client(auth=HttpxAuth(client)) as http:
            assert http.get(f"{on_80.url}/v2/echo").status_code == 200
        assert_never_saw_a_token(on_80, client.access_token)


def test_plain_http_through_an_environment_proxy_never_gets_a_token(two_hosts: tuple[Any, Any],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    api, proxy = two_hosts  # the mock on 127.0.0.2 plays a plain-http proxy and logs what it gets
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    with Client(Config(api.url, "demo-client", "demo-secret")) as client, requests.Session() as session:
        session.auth = RequestsAuth(client)
        assert session.get(f"{api.url}/v2/echo").status_code == 200
        with httpx.Client(auth=HttpxAuth(client)) as http:
            assert http.get(f"{api.url}/v2/echo").status_code == 200
        assert len(proxy.stats()["recent_api_requests"]) == 2, "both went through the proxy"
        assert_never_saw_a_token(proxy, client.access_token)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        echoed = session.get(f"{api.url}/v2/echo").json()["headers"]
        assert ["authorization", f"Bearer {client.access_token}"] in echoed, "no proxy: the API gets it"


def test_a_half_made_config_still_formats_in_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGMA_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("SIGMA_BASE_URL", "aws-us-east")
    monkeypatch.setenv("SIGMA_CLIENT_ID", "x")
    text = formatted_with_locals(Config.from_env)
    assert "SIGMA_CLIENT_SECRET" in text and "<sigma_auth.Config" in text


def test_tokens_are_not_picklable_but_copy_fine(mock: Any) -> None:
    import copy
    import pickle

    token = sigma_auth.get_token(Config(mock.url, "demo-client", "demo-secret"))
    with pytest.raises(TypeError):
        pickle.dumps(token)
    assert copy.copy(token) is token and copy.deepcopy({"t": token})["t"] is token
