//! A small CONNECT proxy on loopback for the network tests (of the library
//! and of `sigma-token doctor`): it maps the names
//! it is asked for (sigma.test, 192.0.2.1) to the mock, can demand credentials
//! (407), and records every CONNECT target it was asked for.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct ConnectProxy {
    pub url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// `routes` maps a requested `host:port` to where it really is;
    /// `credentials` is the `user:password` it demands, if any.
    pub fn start(routes: HashMap<String, String>, credentials: Option<&str>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|c| {
            use base64::Engine;
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c))
        });
        let log = asked.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (routes, expected, log) = (routes.clone(), expected.clone(), log.clone());
                std::thread::spawn(move || serve(client, &routes, expected.as_deref(), &log));
            }
        });
        ConnectProxy { url, asked }
    }

    /// Every `host:port` a client asked to CONNECT to.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn serve(mut client: TcpStream, routes: &HashMap<String, String>, expected: Option<&str>, log: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 || head.len() > 16 * 1024 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    log.lock().unwrap().push(target.clone());
    let authorized = expected.is_none_or(|want| {
        head.lines().any(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:") && l.ends_with(want))
    });
    if !head.starts_with("CONNECT ") || !authorized {
        let _ = client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\r\n",
        );
        return;
    }
    let Some(upstream) = routes.get(&target).and_then(|to| TcpStream::connect(to).ok()) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut client, mut upstream) = (client, upstream);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
}
