"""Acting as a user and signing embed URLs, from Python."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import jwt
import pytest

import sigma_auth
from sigma_auth import Client, Config
from sigma_auth.embed import sign_url

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def admin_for(mock: Any) -> Client:
    return Client(Config(mock.url, "demo-client", "demo-secret"))


def whoami(mock: Any, token: str) -> Any:
    request = urllib.request.Request(f"{mock.url}/v2/whoami", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_users_client_gets_that_users_token(mock: Any) -> None:
    with admin_for(mock) as admin:
        viewer = admin.impersonate("viewer@example.com")
        token = viewer.token()
        assert token.refresh_token is None
        assert whoami(mock, token.access_token)["email"] == "viewer@example.com"
        assert admin.impersonate("viewer@example.com").token().serial == token.serial
        assert "viewer@example.com" in repr(viewer) and token.access_token not in repr(viewer)
        tenant = admin.impersonate("viewer@example.com", tenant="t-1").token()
        assert whoami(mock, tenant.access_token)["tenant"] == "t-1"
        viewer.close()
        assert admin.access_token  # the admin client is untouched
    stats = mock.stats()
    assert stats["by_grant"] == {"client_credentials": 1, EXCHANGE: 2}


def test_threads_for_many_users_share_one_admin_token(mock: Any) -> None:
    mock.faults({"kind": "delay", "ms": 200})
    errors: list[str] = []
    with admin_for(mock) as admin:
        def take(i: int) -> None:
            try:
                admin.impersonate(f"user{i % 8}@example.com").token()
            except Exception as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=take, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    stats = mock.stats()
    assert stats["by_grant"]["client_credentials"] == 1
    assert sorted(stats["exchanges_by_subject"].values()) == [1] * 8


def test_a_client_per_request_closed_after_use_costs_one_exchange_per_user(mock: Any) -> None:
    admin = admin_for(mock)
    serials: dict[str, int] = {}
    for _ in range(10):
        for user in ("a@example.com", "b@example.com"):
            with admin.impersonate(user) as viewer:
                assert serials.setdefault(user, viewer.token().serial) == viewer.token().serial
    kept = admin.impersonate("a@example.com")
    admin.close()  # a user's client keeps working after its admin's is closed
    kept.invalidate(kept.token())
    assert whoami(mock, kept.access_token)["email"] == "a@example.com"
    kept.close()
    assert mock.stats()["by_grant"] == {"client_credentials": 1, EXCHANGE: 3}


def test_refusals_and_bad_emails(start_mock: Any) -> None:
    mock = start_mock("--admin-user", "boss@example.com", "--user", "known@example.com")
    with admin_for(mock) as admin:
        with pytest.raises(sigma_auth.Forbidden) as forbidden:
            admin.impersonate("boss@example.com").token()
        assert forbidden.value.http_status == 403 and forbidden.value.code is sigma_auth.Status.FORBIDDEN
        assert isinstance(forbidden.value, PermissionError)
        with pytest.raises(sigma_auth.InvalidGrant):
            admin.impersonate("stranger@example.com").token()
        for bad in ["", "no-at", "two words@example.com", "x" * 321 + "@example.com"]:
            with pytest.raises(sigma_auth.InvalidArgument):
                admin.impersonate(bad)
        with pytest.raises(TypeError):
            admin.impersonate(42)  # type: ignore[arg-type]
        with pytest.raises(sigma_auth.Forbidden):
            sigma_auth.impersonate_token(Config(mock.url, "demo-client", "demo-secret"), "boss@example.com")
    token = sigma_auth.impersonate_token(Config(mock.url, "demo-client", "demo-secret",
                                                subject_token_claims={"aud": "sigmacomputing"}), "known@example.com")
    assert whoami(mock, token.access_token)["email"] == "known@example.com"


EMBED_SECRET = "embed-secret-as-long-as-sigma-issues-them-0123456789"


def test_a_signed_embed_url_passes_the_mock_and_an_independent_jwt_library(start_mock: Any) -> None:
    mock = start_mock("--embed-secret", EMBED_SECRET)
    url = sign_url("https://app.sigmacomputing.com/my-org/workbook/w-1", "demo-embed", EMBED_SECRET,
                   email="viewer@example.com", ttl=600, teams=["Sales"], user_attributes={"region": "EU"},
                   ver="1.1", aud="sigmacomputing")
    query = urllib.parse.quote(url, safe="")
    with urllib.request.urlopen(f"{mock.url}/__mock/embed/verify?url={query}", timeout=10) as response:
        verdict = json.loads(response.read())
    assert verdict["valid"] is True, verdict
    token = url.split(":jwt=", 1)[1].split("&", 1)[0]
    assert url.endswith("&:embed=true")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": "demo-embed", "typ": "JWT"}
    claims = jwt.decode(token, EMBED_SECRET, algorithms=["HS256"], audience="sigmacomputing")
    assert claims["sub"] == "viewer@example.com" and claims["teams"] == ["Sales"]
    assert claims["exp"] - claims["iat"] == 600 and abs(claims["iat"] - time.time()) < 5
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, EMBED_SECRET.upper(), algorithms=["HS256"], audience="sigmacomputing")


def test_every_bad_embed_claim_is_refused_with_its_name_and_no_secret() -> None:
    base = "https://app.sigmacomputing.com/o/w"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"teams": "x"}, "teams"),
        ({"user_attributes": {"k": 1}}, "user_attributes"),
        ({"ver": "9"}, "ver"),
        ({"ver": "1.1"}, "aud"),
        ({"oauth_token": "t"}, "oauth_token"),
        ({"exp": 1}, "exp"),
        ({"first_name": 3}, "first_name"),
    ]
    for claims, name in cases:
        with pytest.raises(sigma_auth.InvalidArgument) as caught:
            sign_url(base, "demo-embed", "S3CRET-EMBED", email="v@example.com", **claims)
        assert name in str(caught.value) and "S3CRET-EMBED" not in repr(caught.value)
    with pytest.raises(sigma_auth.InvalidArgument):
        sign_url(base, "demo-embed", "s", email="not an email")
    with pytest.raises(sigma_auth.InvalidArgument):
        sign_url("http://app.sigmacomputing.com/o/w", "demo-embed", "s", email="v@example.com")
    for ttl in (2_592_001, 0, -5, 2**40):  # the library's range, and its message
        with pytest.raises(sigma_auth.InvalidArgument, match="ttl|lifetime"):
            sign_url(base, "demo-embed", "s", email="v@example.com", ttl=ttl)
    with pytest.raises(TypeError):
        sign_url(base, "demo-embed", "s", email="v@example.com", sub="x")
