//! Starts `sigma-mock` as a child process on a free loopback port and talks to it
//! over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Mock {
    pub url: String,
    pub child: Child,
    pub dir: std::path::PathBuf,
}

impl Mock {
    pub fn start(args: &[&str]) -> Mock {
        let dir = std::env::temp_dir().join(format!("sigma-mock-test-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sigma-mock"))
            .args(args)
            .arg("--exit-with-stdin")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sigma-mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "sigma-mock printed no URL");
        Mock { url: line.trim().to_string(), child, dir }
    }

    pub fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(20)))
            .proxy(None)
            .build()
            .into()
    }

    pub fn token_form(&self, form: &[(&str, &str)]) -> Reply {
        let resp = self.agent().post(format!("{}/v2/auth/token", self.url)).send_form(form.iter().copied());
        Reply::from(resp.expect("token request"))
    }

    pub fn client_credentials(&self) -> Reply {
        self.token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
    }

    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        let resp = self
            .agent()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .send(body)
            .expect("post");
        Reply::from(resp)
    }

    pub fn post_empty(&self, path: &str) -> Reply {
        Reply::from(self.agent().post(format!("{}{path}", self.url)).send_empty().expect("post"))
    }

    pub fn faults(&self, json: &str) {
        let reply = self.post_json("/__mock/faults", json);
        assert_eq!(reply.status, 200, "fault list refused: {}", reply.body);
    }

    pub fn stats(&self) -> serde_json::Value {
        let resp = self.agent().get(format!("{}/__mock/stats", self.url)).call().expect("stats");
        Reply::from(resp).json()
    }

    pub fn whoami(&self, authorization: Option<&str>) -> Reply {
        let mut req = self.agent().get(format!("{}/v2/whoami", self.url));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        Reply::from(req.call().expect("whoami"))
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").trim_start_matches("https://").to_string()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.body_mut().with_config().limit(16 * 1024 * 1024).read_to_string().expect("read body");
        Reply { status, headers, body }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Asserts Sigma's error envelope with the given status and message.
pub fn assert_envelope(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    let json = reply.json();
    assert_eq!(json["message"], message, "body: {}", reply.body);
    assert!(json["code"].as_str().is_some_and(|c| !c.is_empty()), "no code: {}", reply.body);
    assert!(json["requestId"].as_str().is_some_and(|r| r.len() >= 16), "no requestId: {}", reply.body);
}
