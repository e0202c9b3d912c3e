//! What the command's tests share: the mock, and the harness's helpers.
#![allow(dead_code, unused_imports)]

pub use sigma_mock::harness::{dead_pid, mkfifo, MockServer, NETWORK_VARIABLES};
pub use sigma_mock::proxy;

pub fn mock(args: &[&str]) -> MockServer {
    MockServer::start(args)
}

/// A `$BROWSER` for the sign-in tests, written in `dir`: curl visiting the URL
/// it is given and every redirect after it (with a cookie jar in `dir` when
/// `cookies`: some authorization servers keep their interaction in cookies).
pub fn browser_script(dir: &std::path::Path, cookies: bool) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let jar = dir.join("cookie-jar");
    let jar = if cookies { format!("-c '{0}' -b '{0}' ", jar.display()) } else { String::new() };
    let browser = dir.join("browser");
    std::fs::write(&browser, format!("#!/bin/sh\nexec curl -sS -L --max-redirs 20 {jar}-o /dev/null \"$1\"\n"))
        .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    browser
}

/// A home of its own for `sigma-token` (a built binary, `bin`): its sign-ins
/// in files under `XDG_CONFIG_HOME`, and a `$BROWSER` script that visits the
/// URL it is given and every redirect after it. Removed when dropped.
pub struct Home {
    pub dir: std::path::PathBuf,
}

impl Home {
    pub fn new(name: &str) -> Home {
        Home::make(name, false)
    }

    /// With a cookie jar for the browser (some servers keep their interaction in cookies).
    pub fn with_cookies(name: &str) -> Home {
        Home::make(name, true)
    }

    fn make(name: &str, cookies: bool) -> Home {
        let dir = std::env::temp_dir().join(format!("sigma-home-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        browser_script(&dir, cookies);
        Home { dir }
    }

    /// Where the file store keeps the sign-ins.
    pub fn store(&self) -> std::path::PathBuf {
        self.dir.join("config/sigma-auth")
    }

    /// `sigma-token ARGS` in this home, with nothing of the caller's Sigma,
    /// display or network settings.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sigma-token"));
        command
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("SIGMA_KEYRING", "file")
            .env("BROWSER", self.dir.join("browser"))
            .stdin(std::process::Stdio::null());
        for name in [
            "SIGMA_BASE_URL",
            "SIGMA_CLIENT_ID",
            "SIGMA_CLIENT_SECRET",
            "SIGMA_PROFILE",
            "SIGMA_TOKEN_CACHE",
            "SIGMA_TOKEN_STORE",
        ]
        .into_iter()
        .chain(["DISPLAY", "WAYLAND_DISPLAY"])
        .chain(NETWORK_VARIABLES)
        {
            command.env_remove(name);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    pub fn succeed(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
