"""A person signs in: through the binding, and in a real browser.

The browser tests drive headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``.ci/run`` installs) with WebDriver: it opens the
authorization URL, fills the mock's sign-in page, presses Allow (or Deny) and
lands on this program's loopback page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest

import sigma_auth

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sign-ins of this test only, in files (the library reads the environment)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SIGMA_KEYRING", "file")
    return tmp_path / "config" / "sigma-auth"


def signin(mock: Any, **settings: Any) -> None:
    mock._call("POST", "/__mock/signin", settings)


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def wait_in_thread(pending: sigma_auth.PendingLogin) -> "tuple[threading.Thread, List[BaseException]]":
    failures: List[BaseException] = []

    def run() -> None:
        try:
            pending.wait()
        except BaseException as error:  # handed to the test
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


def test_sign_in_then_a_config_from_the_login_gets_tokens_the_api_and_mcp_accept(mock: Any, store: Path) -> None:
    signin(mock, auto_approve="ana@example.com")
    with sigma_auth.begin_login(mock.url, profile="py", scopes="api:access mcp:access", timeout=20) as pending:
        thread, failures = wait_in_thread(pending)
        # A browser that follows the redirects back to this program.
        with urllib.request.urlopen(pending.authorize_url, timeout=10) as page:
            assert "Signed in as ana@example.com" in page.read().decode()
        thread.join()
        assert not failures
    assert (store / "login-py.json").exists()
    with sigma_auth.Client(sigma_auth.Config.from_login("py")) as client:
        token = client.token()
        assert get(f"{mock.url}/v2/whoami", token.access_token) == 200
        assert get(f"{mock.url}/mcp/v2", token.access_token) == 200
    sigma_auth.logout("py")
    assert not (store / "login-py.json").exists()
    with pytest.raises(sigma_auth.LoginRequired) as raised:
        sigma_auth.Config.from_login("py")
    assert "sigma-token login" in str(raised.value)


def test_a_host_without_a_sign_in_is_login_unavailable(mock: Any) -> None:
    signin(mock, enabled=False)
    with pytest.raises(sigma_auth.LoginUnavailable):
        sigma_auth.begin_login(mock.url)


def test_a_pasted_url_completes_and_a_bad_one_is_refused(mock: Any) -> None:
    signin(mock, auto_approve="bo@example.com")
    with sigma_auth.begin_login(mock.url, profile="pasted") as pending:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as landed:
            opener.open(pending.authorize_url, timeout=10)
        location = landed.value.headers["Location"]
        pending.complete(location)
    with sigma_auth.begin_login(mock.url, profile="pasted-bad") as pending:
        with pytest.raises(sigma_auth.InvalidArgument):
            pending.complete("https://example.com/?code=x")


# The real browser.

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (.ci/run does)")
        pytest.skip("chromium or chromedriver is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--no-proxy-server"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in_in_the_browser(driver: Any, pending: sigma_auth.PendingLogin, email: Optional[str]) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    thread, failures = wait_in_thread(pending)
    driver.get(pending.authorize_url)
    if email is not None:
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.ID, "allow").click()
    else:
        driver.find_element(By.ID, "deny").click()
    WebDriverWait(driver, 15).until(lambda d: "signed in" in d.page_source.lower())
    thread.join(20)
    assert not thread.is_alive()
    if failures:
        raise failures[0]
    return str(driver.page_source)


def test_a_person_signs_in_in_a_real_browser_and_the_cli_prints_a_token_api_and_mcp_accept(
        mock: Any, browser: Any, store: Path) -> None:
    with sigma_auth.begin_login(mock.url, profile="chromium", scopes="api:access mcp:access", timeout=30) as pending:
        page = sign_in_in_the_browser(browser, pending, "carla@example.com")
    assert "Signed in as carla@example.com" in page
    assert mock.stats()["signin"]["pages_shown"] == 1
    sigma_token = ROOT / "target" / os.environ.get("PROFILE", "debug") / "sigma-token"
    out = subprocess.run([str(sigma_token), "--profile", "chromium"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PATH": os.environ.get("PATH", "")})
    token = out.stdout.strip()
    assert get(f"{mock.url}/v2/whoami", token) == 200
    assert get(f"{mock.url}/mcp/v2", token) == 200


def test_deny_in_a_real_browser_is_login_denied_and_stores_nothing(mock: Any, browser: Any, store: Path) -> None:
    with sigma_auth.begin_login(mock.url, profile="denied", timeout=30) as pending:
        with pytest.raises(sigma_auth.LoginDenied) as raised:
            sign_in_in_the_browser(browser, pending, None)
    assert "declined" in str(raised.value)
    assert "declined" in browser.page_source
    assert not (store / "login-denied.json").exists()
