"""The Python package against the mock: tokens, errors, the client, bad input."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import os
import threading
import time
from typing import Any

import pytest

import sigma_auth
from sigma_auth import Client, Config, Status, get_token, refresh_token

SECRET = "demo-secret"


def config(mock: Any, **options: Any) -> Config:
    return Config(mock.url, "demo-client", SECRET, **options)


def test_get_token_returns_an_immutable_token(mock: Any) -> None:
    token = get_token(config(mock))
    assert token.access_token.startswith("mock_at_")
    assert token.refresh_token and token.refresh_token.startswith("mock_rt_")
    assert token.token_type == "bearer"
    assert token.expires_in == 3600
    assert token.expires_at.tzinfo is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((token.expires_at - now).total_seconds() - 3600) < 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.access_token = "x"  # type: ignore[misc]
    agent = mock.stats()["last_token_request"]["user_agent"]
    assert agent.startswith("sigma-auth/") and "(python/3." in agent


def test_refresh_rotates_and_reuse_is_invalid_grant(mock: Any) -> None:
    cfg = config(mock)
    first = get_token(cfg)
    assert first.refresh_token is not None
    second = refresh_token(cfg, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(sigma_auth.InvalidGrant) as caught:
        refresh_token(cfg, first.refresh_token)
    error = caught.value
    assert error.code is Status.INVALID_GRANT
    assert error.http_status == 401
    assert error.request_id and len(error.request_id) >= 16
    assert first.refresh_token not in str(error) + repr(error)


def raises(mock: Any, faults: list[dict[str, Any]], **options: Any) -> sigma_auth.SigmaAuthError:
    if faults:
        mock.faults(*faults)
    with pytest.raises(sigma_auth.SigmaAuthError) as caught:
        get_token(config(mock, **options))
    return caught.value


def test_every_failure_status_raises_its_own_exception(start_mock: Any) -> None:
    mock = start_mock()
    cases: list[tuple[type[sigma_auth.SigmaAuthError], Status, list[dict[str, Any]], dict[str, Any]]] = [
        (sigma_auth.NetworkError, Status.NETWORK, [{"kind": "drop"}], {"max_attempts": 1}),
        (sigma_auth.Timeout, Status.TIMEOUT, [{"kind": "delay", "ms": 3000}], {"timeout": 0.3}),
        (sigma_auth.RateLimited, Status.RATE_LIMITED, [{"kind": "status", "status": 429, "retry_after": "999999"}], {}),
        (sigma_auth.ServerError, Status.SERVER, [{"kind": "status", "status": 500}], {"max_attempts": 1}),
        (sigma_auth.HTTPError, Status.HTTP, [{"kind": "body", "status": 404, "body": "{}"}], {}),
        (sigma_auth.ProtocolError, Status.PROTOCOL, [{"kind": "html"}], {}),
    ]
    for cls, status, faults, options in cases:
        error = raises(mock, faults, **options)
        assert type(error) is cls, (status, error)
        assert error.code is status
    with pytest.raises(sigma_auth.InvalidClient) as caught:
        get_token(Config(mock.url, "demo-client", "wrong-secret"))
    assert caught.value.http_status == 401
    with pytest.raises(sigma_auth.InvalidArgument):
        Config("aws-mars", "a", "b")
    with pytest.raises(sigma_auth.InsecureURL):
        Config("http://api.sigmacomputing.com", "a", "b")
    assert issubclass(sigma_auth.Timeout, TimeoutError)
    assert issubclass(sigma_auth.NetworkError, ConnectionError)
    assert issubclass(sigma_auth.InvalidArgument, ValueError)


def test_a_network_error_against_a_closed_port(start_mock: Any) -> None:
    gone = start_mock()
    url = gone.url
    gone.stop()
    with pytest.raises(sigma_auth.NetworkError):
        get_token(Config(url, "demo-client", SECRET, max_attempts=1))


def test_thirty_two_threads_on_a_cold_client_cause_one_request(mock: Any) -> None:
    mock.faults({"kind": "delay", "ms": 300})
    client = Client(config(mock))
    barrier = threading.Barrier(32)
    tokens: list[str] = []

    def take() -> None:
        barrier.wait()
        tokens.append(client.access_token)

    threads = [threading.Thread(target=take) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == 32 and len(set(tokens)) == 1
    assert mock.token_requests() == 1
    client.close()


def test_calls_release_the_gil_so_threads_overlap(mock: Any) -> None:
    mock.faults(*[{"kind": "delay", "ms": 400}] * 4)
    cfg = config(mock)
    threads = [threading.Thread(target=get_token, args=(cfg,)) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert elapsed < 1.2, f"4 x 400 ms requests took {elapsed:.2f} s: the GIL was held"
    assert mock.stats()["max_concurrent_token_requests"] >= 2


def test_the_client_caches_invalidates_and_closes_safely(mock: Any) -> None:
    with Client(config(mock)) as client:
        first = client.token()
        assert client.token() is first, "the same token is not rebuilt per call"
        client.invalidate("not-the-current-token")
        assert client.access_token == first.access_token
        client.invalidate(first.access_token)
        assert client.access_token != first.access_token
        assert mock.token_requests() == 2
    client.close()  # twice is fine
    assert client.closed
    with pytest.raises(ValueError, match="closed"):
        client.token()
    with pytest.raises(ValueError, match="closed"):
        client.invalidate("x")


def test_closing_a_config_leaves_its_clients_working(mock: Any) -> None:
    cfg = config(mock)
    client = Client(cfg)
    cfg.close()
    cfg.close()
    assert client.access_token.startswith("mock_at_")
    with pytest.raises(ValueError, match="closed"):
        get_token(cfg)
    with pytest.raises(ValueError, match="closed"):
        Client(cfg)
    del client
    gc.collect()


@pytest.mark.parametrize("bad", [None, 42, b"bytes"])
def test_wrong_types_raise_type_error(mock: Any, bad: Any) -> None:
    with pytest.raises(TypeError):
        Config(bad, "demo-client", SECRET)
    with pytest.raises(TypeError):
        Config(mock.url, bad, SECRET)
    with pytest.raises(TypeError):
        Config(mock.url, "demo-client", bad)
    with pytest.raises(TypeError):
        refresh_token(config(mock), bad)
    with pytest.raises(TypeError):
        get_token(bad)
    with pytest.raises(TypeError):
        Client(bad)
    with Client(config(mock)) as client:
        with pytest.raises(TypeError):
            client.invalidate(bad)


@pytest.mark.parametrize("bad", ["a\0b", "\ud800", ""])
def test_unrepresentable_values_raise_value_error(mock: Any, bad: str) -> None:
    with pytest.raises(ValueError):
        Config(mock.url, bad, SECRET)
    with pytest.raises(ValueError):
        refresh_token(config(mock), bad)


def test_bad_options_raise(mock: Any) -> None:
    with pytest.raises(TypeError):
        config(mock, timeout="soon")
    with pytest.raises(ValueError):
        config(mock, timeout=-1)
    with pytest.raises(sigma_auth.InvalidArgument):
        config(mock, timeout=0)
    with pytest.raises(sigma_auth.InvalidArgument):
        config(mock, max_attempts=0)
    with pytest.raises(sigma_auth.InvalidArgument):
        config(mock, ca_file="/nonexistent.pem")
    with pytest.raises(TypeError):
        config(mock, basic_auth="yes")
    assert get_token(config(mock, basic_auth=True, user_agent_suffix="tests/1", refresh_margin=60,
                            connect_timeout=2, max_attempts=2))
    assert mock.stats()["last_token_request"]["client_auth"] == "basic"


def test_no_secret_or_token_in_any_text(mock: Any) -> None:
    secret = "S3CRET-VALUE-42"
    cfg = Config(mock.url, "demo-client", secret)
    texts = [str(cfg), repr(cfg)]
    try:
        get_token(cfg)
    except sigma_auth.SigmaAuthError as error:
        texts += [str(error), repr(error)]
    token = get_token(config(mock))
    texts += [str(token), repr(token)]
    client = Client(config(mock))
    texts += [str(client), repr(client)]
    assert token.refresh_token is not None
    for text in texts:
        for hidden in (secret, SECRET, token.access_token, token.refresh_token):
            assert hidden not in text, text
    client.close()


def test_a_token_store_url_is_checked_and_its_password_never_shown(mock: Any) -> None:
    good = config(mock, token_store="redis://u:hunter2@127.0.0.1:1/2")
    assert "hunter2" not in str(good) + repr(good)
    good.close()
    for bad in ("http://u:hunter2@h", "redis://u:hunter2@h/notadb", "redis://:hunter2@h?insecure"):
        with pytest.raises(sigma_auth.InvalidArgument) as caught:
            config(mock, token_store=bad)
        assert caught.value.code is Status.INVALID_ARGUMENT
        texts = (str(caught.value), repr(caught.value), caught.value.message)
        assert "token store URL" in caught.value.message
        for text in texts:
            assert "hunter2" not in text, text
    with pytest.raises(TypeError, match="token_store must be str"):
        config(mock, token_store=b"redis://h")


def test_from_env_takes_the_token_store_from_the_library(mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGMA_BASE_URL", mock.url)
    monkeypatch.setenv("SIGMA_CLIENT_ID", "demo-client")
    monkeypatch.setenv("SIGMA_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SIGMA_TOKEN_STORE", "ftp://u:hunter2@h")
    with pytest.raises(sigma_auth.InvalidArgument, match="token store URL") as caught:
        Config.from_env()
    assert "hunter2" not in str(caught.value) + repr(caught.value)
    monkeypatch.setenv("SIGMA_TOKEN_STORE", "redis://u:hunter2@127.0.0.1:1")
    with Config.from_env() as cfg:
        assert "hunter2" not in str(cfg) + repr(cfg)


def test_clients_share_tokens_through_the_token_store(mock: Any, redis_url: str) -> None:
    # Two clients of two configs share nothing in memory: only the store.
    first = Client(config(mock, token_store=redis_url))
    second = Client(config(mock, token_store=redis_url))
    assert first.access_token == second.access_token
    assert mock.stats()["by_grant"] == {"client_credentials": 1}
    third = Client(config(mock))
    assert third.access_token != first.access_token
    assert mock.stats()["by_grant"] == {"client_credentials": 2}
    third.close()
    first.close()
    second.close()


def test_a_server_echoing_secrets_cannot_leak_them_through_errors(mock: Any) -> None:
    cfg = config(mock)
    token = get_token(cfg)
    assert token.refresh_token is not None
    mock.faults({"kind": "status", "status": 401, "message": f"echo {SECRET} {token.refresh_token}"})
    with pytest.raises(sigma_auth.InvalidGrant) as caught:
        refresh_token(cfg, token.refresh_token)
    for text in (str(caught.value), repr(caught.value), caught.value.message):
        assert SECRET not in text and token.refresh_token not in text and "[redacted]" in text


def test_a_hundred_thousand_gets_keep_rss_flat(mock: Any) -> None:
    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    with Client(config(mock)) as client:
        for _ in range(10_000):
            client.token()
        before = rss_kib()
        for i in range(100_000):
            token = client.token()
            if i % 10_000 == 0:
                client.invalidate(token.access_token)
        grown = rss_kib() - before
    assert grown < 4096, f"RSS grew by {grown} KiB"


def test_config_from_env(mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGMA_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("SIGMA_BASE_URL", mock.url)
    monkeypatch.setenv("SIGMA_CLIENT_ID", "demo-client")
    with pytest.raises(sigma_auth.InvalidArgument, match="SIGMA_CLIENT_SECRET"):
        Config.from_env()
    monkeypatch.setenv("SIGMA_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SIGMA_CLIENT_ID", "  demo-client  ")  # the library trims, as it reads
    config = Config.from_env(timeout=5)
    assert get_token(config).token_type == "bearer"
    assert repr(config) == f"<sigma_auth.Config endpoint='{mock.url}' client_id='demo-client'>"
    with pytest.raises(TypeError, match="timeout_seconds"):
        Config.from_env(timeout_seconds=5)  # type: ignore[call-arg]


def test_out_of_range_options_get_the_librarys_own_message(mock: Any) -> None:
    for options, says in (({"timeout": -1}, "timeout must be between"), ({"timeout": float("nan")}, "timeout"),
                          ({"refresh_margin": -5}, "refresh margin must be between"),
                          ({"max_attempts": 2**40}, "max attempts must be between 1 and 10"),
                          ({"max_attempts": -1}, "max attempts must be between 1 and 10")):
        with pytest.raises(sigma_auth.InvalidArgument, match=says):
            config(mock, **options)
    with pytest.raises(TypeError, match="unexpected keyword argument 'timeot'"):
        config(mock, timeot=5)


def test_https_with_the_mocks_ca(start_mock: Any, tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    mock = start_mock("--tls", "--cert-out", str(ca))
    assert get_token(Config(mock.url, "demo-client", SECRET, ca_file=ca)).access_token
    with pytest.raises(sigma_auth.NetworkError):
        get_token(Config(mock.url, "demo-client", SECRET, max_attempts=1))


def test_version() -> None:
    assert sigma_auth.__version__.count(".") == 2


def test_sigma_auth_library_overrides_the_bundled_library(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, SIGMA_AUTH_LIBRARY=str(tmp_path / "missing.so"))
    result = subprocess.run([sys.executable, "-c", "import sigma_auth"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SIGMA_AUTH_LIBRARY" in result.stderr and "missing.so" in result.stderr

    bundled = sigma_auth._native.library_path()
    env["SIGMA_AUTH_LIBRARY"] = str(bundled)
    check = "import sigma_auth, sys; sys.stdout.write(str(sigma_auth._native.library_path()))"
    result = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == str(bundled)


def test_clients_share_tokens_through_the_token_cache(mock: Any, tmp_path: Any) -> None:
    cache = tmp_path / "cache"
    first = Client(config(mock, token_cache=cache))
    second = Client(config(mock, token_cache=str(cache)))
    assert first.access_token == second.access_token
    assert mock.token_requests() == 1
    assert (cache.stat().st_mode & 0o777) == 0o700
    first.close()
    second.close()


def test_a_token_cache_path_that_is_not_utf8_is_the_file_systems_bytes(mock: Any, tmp_path: Any) -> None:
    raw = os.fsencode(tmp_path) + b"/cache-\xff"
    first = Client(config(mock, token_cache=os.fsdecode(raw)))  # a str with a surrogate escape
    second = Client(config(mock, token_cache=raw))  # or the bytes themselves
    assert first.access_token == second.access_token
    assert mock.token_requests() == 1
    assert os.path.isdir(raw)
    first.close()
    second.close()
    with pytest.raises(ValueError):
        config(mock, token_cache="/tmp/with\0nul")
    with pytest.raises(TypeError):
        config(mock, token_cache=42)


def test_the_package_and_the_library_have_one_version() -> None:
    from importlib.metadata import version

    assert version("sigma-auth") == sigma_auth.__version__
