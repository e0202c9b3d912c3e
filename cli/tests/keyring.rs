//! A sign-in kept in a real Secret Service: gnome-keyring-daemon on a private
//! D-Bus session (`dbus-run-session`), both from Debian's packages, which
//! `.ci/run` installs. Stored, read, rotated and deleted there, and never
//! written to a file.

mod common;

use std::fs;
use std::process::Command;

use common::mock;

const BIN: &str = env!("CARGO_BIN_EXE_sigma-token");

fn installed(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_sign_in_is_stored_rotated_and_deleted_in_a_real_secret_service() {
    if !(installed("dbus-run-session") && installed("gnome-keyring-daemon")) {
        assert!(std::env::var_os("CI").is_none(), "CI must install dbus and gnome-keyring (.ci/run does)");
        eprintln!("skipped: dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let mock = mock(&["--expires-in", "4"]);
    mock.signin(r#"{"auto_approve": "ana@example.com"}"#);
    let dir = std::env::temp_dir().join(format!("sigma-keyring-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let browser = common::browser_script(&dir, false);
    // Every step inside one D-Bus session with its own unlocked keyring.
    let script = format!(
        r#"set -eu
export HOME="{dir}" XDG_CONFIG_HOME="{dir}/config" XDG_DATA_HOME="{dir}/data" BROWSER="{browser}"
mkdir -p "$XDG_DATA_HOME"
printf 'test-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
t="{bin}"
whoami() {{ curl -s -o /dev/null -w '%{{http_code}}' -H "Authorization: Bearer $1" "{url}/v2/whoami"; }}
"$t" login --endpoint "{url}" --timeout 20 --profile kr 2>login.err || {{ cat login.err; exit 1; }}
grep -q 'kept in the OS keyring' login.err || {{ cat login.err; exit 1; }}
echo "stored-files: $(ls "$XDG_CONFIG_HOME/sigma-auth" | grep -c json || true)"
echo "first: $(whoami "$("$t" --profile kr)")"
sleep 2.2
echo "rotated: $(whoami "$("$t" --profile kr)")"
echo "listed: $("$t" profiles | cut -f1,2,6)"
"$t" logout --profile kr
echo "after-logout: $("$t" profiles | wc -l)"
"$t" --profile kr >/dev/null 2>&1 || echo "after-logout-status: $?"
"#,
        dir = dir.display(),
        browser = browser.display(),
        bin = BIN,
        url = mock.url
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .current_dir(&dir)
        .env_remove("SIGMA_KEYRING")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SIGMA_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "stored-files: 0",
        "first: 200",
        "rotated: 200",
        "listed: kr\tana@example.com\tsecret-service",
        "after-logout: 0",
        "after-logout-status: 13",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line {line:?} in:\n{stdout}");
    }
    let signin = &mock.stats()["signin"];
    assert_eq!(
        (signin["refreshes"].as_u64(), signin["revocations"].as_u64(), signin["reuses"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{signin}"
    );
    let _ = fs::remove_dir_all(&dir);
}
