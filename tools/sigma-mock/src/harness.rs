//! Runs `sigma-mock` as a child process for tests and benchmarks in Rust, and
//! talks to it over real sockets. Other languages do the same with their own few
//! lines: start the binary with `--port 0 --exit-with-stdin`, read the first line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A running mock; killed when dropped. It also exits by itself if this process
/// dies, because its standard input closes.
pub struct MockServer {
    pub url: String,
    pub child: Child,
    dir: PathBuf,
    ca_file: Option<PathBuf>,
}

impl MockServer {
    /// Starts the mock found by [`binary`] with these extra arguments.
    pub fn start(args: &[&str]) -> MockServer {
        MockServer::start_binary(&binary(), args, false)
    }

    /// Starts it with `--tls`; [`MockServer::ca_file`] is the CA to trust.
    pub fn start_tls(args: &[&str]) -> MockServer {
        MockServer::start_binary(&binary(), args, true)
    }

    pub fn start_binary(bin: &Path, args: &[&str], tls: bool) -> MockServer {
        let dir = unique_dir();
        let ca_file = tls.then(|| dir.join("ca.pem"));
        let mut command = Command::new(bin);
        command.args(args).arg("--exit-with-stdin");
        if let Some(ca) = &ca_file {
            command.arg("--tls").arg("--cert-out").arg(ca);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("read the URL line");
        assert!(!line.is_empty(), "sigma-mock printed no URL");
        MockServer { url: line.trim().to_string(), child, dir, ca_file }
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// `host:port`, for raw sockets.
    pub fn addr(&self) -> String {
        self.url.split("://").nth(1).unwrap_or(&self.url).to_string()
    }

    /// An agent that reports every status as a response, follows no redirect and
    /// trusts the mock's CA in TLS mode.
    pub fn agent(&self) -> ureq::Agent {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).expect("read the mock's CA");
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(20)))
            .proxy(None)
            .tls_config(tls.build())
            .build()
            .into()
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        Reply::from(self.agent().post(self.path(path)).send_form(form.iter().copied()).expect("POST form"))
    }

    /// A form POST with extra headers, e.g. the `Authorization: Bearer` of a token exchange.
    pub fn post_form_with_headers(&self, path: &str, headers: &[(&str, &str)], form: &[(&str, &str)]) -> Reply {
        let mut request = self.agent().post(self.path(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::from(request.send_form(form.iter().copied()).expect("POST form"))
    }

    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        let request = self.agent().post(self.path(path)).header("content-type", "application/json");
        Reply::from(request.send(body).expect("POST JSON"))
    }

    pub fn post_empty(&self, path: &str) -> Reply {
        Reply::from(self.agent().post(self.path(path)).send_empty().expect("POST"))
    }

    pub fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut request = self.agent().get(self.path(path));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        Reply::from(request.call().expect("GET"))
    }

    /// Queues faults for the next token requests (see `/__mock/faults`).
    pub fn faults(&self, json: &str) {
        let reply = self.post_json("/__mock/faults", json);
        assert_eq!(reply.status, 200, "fault list refused: {}", reply.body);
    }

    pub fn stats(&self) -> serde_json::Value {
        self.get("/__mock/stats", None).json()
    }

    /// Token requests received so far with this grant type.
    pub fn grants(&self, grant_type: &str) -> u64 {
        self.stats()["by_grant"][grant_type].as_u64().unwrap_or(0)
    }

    pub fn token_requests(&self) -> u64 {
        self.stats()["token_requests"].as_u64().unwrap_or(0)
    }

    /// Replaces the known users (empty: anyone) and the admin users (see `/__mock/users`).
    pub fn set_users(&self, users: &[&str], admin_users: &[&str]) {
        let body = serde_json::json!({ "users": users, "admin_users": admin_users }).to_string();
        let reply = self.post_json("/__mock/users", &body);
        assert_eq!(reply.status, 200, "user list refused: {}", reply.body);
    }

    pub fn reset(&self) {
        assert_eq!(self.post_empty("/__mock/reset").status, 200);
    }

    /// Expires every access token now (and refresh tokens too when asked).
    pub fn expire(&self, refresh_too: bool) {
        let path = if refresh_too { "/__mock/expire?refresh=1" } else { "/__mock/expire" };
        assert_eq!(self.post_empty(path).status, 200);
    }

    /// Replaces the sign-in's settings (see `/__mock/signin`), e.g.
    /// `{"auto_approve": "ana@example.com"}`.
    pub fn signin(&self, json: &str) {
        let reply = self.post_json("/__mock/signin", json);
        assert_eq!(reply.status, 200, "sign-in settings refused: {}", reply.body);
    }

    /// A browser's visit of `url` (anywhere on loopback): GETs it and every
    /// redirect after it, up to 10; the last answer.
    pub fn browse(&self, url: &str) -> Reply {
        let mut url = url.to_string();
        for _ in 0..10 {
            let reply = Reply::from(self.agent().get(&url).call().expect("GET"));
            match reply.header("location") {
                Some(next) if (300..400).contains(&reply.status) => url = next.to_string(),
                _ => return reply,
            }
        }
        panic!("more than 10 redirects from {url}")
    }

    fn path(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response read whole.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl From<ureq::http::Response<ureq::Body>> for Reply {
    fn from(mut resp: ureq::http::Response<ureq::Body>) -> Self {
        let status = resp.status().as_u16();
        let headers =
            resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let body = resp.body_mut().with_config().limit(16 * 1024 * 1024).read_to_string().expect("read body");
        Reply { status, headers, body }
    }
}

/// The mock binary: `$SIGMA_MOCK_BIN`, else `sigma-mock` in the target directory
/// of the running test, built once with cargo when missing.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| workspace_binary("SIGMA_MOCK_BIN", "sigma-mock")).clone()
}

/// The `sigma-token` command: `$SIGMA_TOKEN_BIN`, else the one in the target
/// directory of the running test, built once with cargo when missing. (It is
/// a package of its own, so the library's tests cannot name it with
/// `CARGO_BIN_EXE_`.)
pub fn sigma_token() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| workspace_binary("SIGMA_TOKEN_BIN", "sigma-token")).clone()
}

/// `$variable`, else the binary of the workspace package `name` beside the
/// running test's directory, built with cargo when missing.
fn workspace_binary(variable: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test-exe> -> target/<profile>/<name>
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let bin = profile_dir.join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", name]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().unwrap_or_else(|e| panic!("run cargo build -p {name}: {e}"));
        assert!(status.success(), "cargo build -p {name} failed");
    }
    bin
}

/// The variables that choose a proxy or a trust store, which the network
/// tests set themselves (and clear for everything else).
pub const NETWORK_VARIABLES: [&str; 10] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The id of a process that has just ended (for tests of litter left by dead writers).
pub fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("run true");
    child.wait().expect("wait for true");
    child.id()
}

/// Makes a FIFO at `path` (mode 0600): what blocks a reader or writer forever.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").args(["-m", "600"]).arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

fn unique_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir =
        std::env::temp_dir().join(format!("sigma-mock-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}
