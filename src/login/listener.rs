//! The loopback end of a sign-in: a listener on 127.0.0.1 and a random free
//! port that takes the one `GET /oauth/callback` the browser is sent back
//! with, answers it with a small page, and answers anything else (a
//! `/favicon.ico`, a stray or hostile request) with a 404 while it keeps
//! waiting, until a deadline.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::endpoint::percent_decode as decode;
use crate::error::{Error, ErrorCode, Result};

const CALLBACK_PATH: &str = "/oauth/callback";
/// A request head larger than this is not a browser coming back.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);

/// What the authorization server sent the browser back with.
pub(crate) struct Callback {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

impl Callback {
    /// The parameters of a callback URL's query.
    pub(crate) fn from_query(query: &str) -> Callback {
        let mut callback = Callback { code: None, state: None, error: None, error_description: None };
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match name {
                "code" => callback.code = value,
                "state" => callback.state = value,
                "error" => callback.error = value,
                "error_description" => callback.error_description = value,
                _ => {}
            }
        }
        callback
    }
}

/// What the sign-in made of a callback.
pub(crate) enum Judged<R> {
    /// The sign-in's own: it ends the wait, with the page the browser gets
    /// (a title and a sentence).
    Done(Result<R>, (&'static str, String)),
    /// Not this sign-in's (no `state`, or another one): answered with this
    /// page and ignored, so that a stray or hostile request cannot end it.
    NotOurs((&'static str, String)),
}

pub(crate) struct Listener {
    socket: TcpListener,
    redirect_uri: String,
}

impl Listener {
    /// A listener on 127.0.0.1 and a port the system picks.
    pub(crate) fn bind() -> Result<Listener> {
        let socket = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            Error::new(ErrorCode::Network, format!("cannot listen on 127.0.0.1 for the browser's return: {e}"))
        })?;
        let port = socket.local_addr().map_err(|e| Error::new(ErrorCode::Network, e.to_string()))?.port();
        socket.set_nonblocking(true).map_err(|e| Error::new(ErrorCode::Network, e.to_string()))?;
        Ok(Listener { socket, redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}") })
    }

    /// `http://127.0.0.1:PORT/oauth/callback`.
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits until `deadline` for the sign-in's callback; `judge` says whether
    /// a callback is the sign-in's and what page the browser gets. Between
    /// looks, `pasted` may offer the callback another way (a URL pasted by the
    /// person), which `finish` takes as the person's word.
    pub(crate) fn wait<R>(
        &self,
        deadline: Instant,
        mut pasted: impl FnMut() -> Option<Result<Callback>>,
        finish: impl Fn(Callback) -> Result<R>,
        judge: impl Fn(Callback) -> Judged<R>,
    ) -> Result<R> {
        loop {
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    "nobody came back from the browser before the sign-in's timeout",
                ));
            }
            match pasted() {
                Some(Ok(callback)) => return finish(callback),
                Some(Err(error)) => return Err(error),
                None => {}
            }
            match self.socket.accept() {
                Ok((stream, _)) => {
                    // A connection gets READ_TIMEOUT in all to send its head, and never more than the sign-in has left.
                    let head_deadline = (Instant::now() + READ_TIMEOUT).min(deadline);
                    let Some((mut stream, query)) = read_callback(stream, head_deadline) else { continue };
                    match judge(Callback::from_query(&query)) {
                        Judged::Done(result, (title, sentence)) => {
                            let status = if result.is_ok() { "200 OK" } else { "400 Bad Request" };
                            respond(&mut stream, status, &page(title, &sentence));
                            return result;
                        }
                        Judged::NotOurs((title, sentence)) => {
                            respond(&mut stream, "400 Bad Request", &page(title, &sentence))
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(e) => return Err(Error::new(ErrorCode::Network, format!("the sign-in's listener failed: {e}"))),
            }
        }
    }
}

/// Reads one request's head by `head_deadline`; the stream and the query when
/// it is `GET /oauth/callback?...`, else answers 404 (or nothing, to a request
/// it could not read in time) and returns None.
fn read_callback(mut stream: TcpStream, head_deadline: Instant) -> Option<(TcpStream, String)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_write_timeout(Some(READ_TIMEOUT)).ok()?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        // The time left for the whole head, not per read: a byte at a time must not keep it.
        let left = head_deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        head.extend_from_slice(&chunk[..n]);
        if head.len() > MAX_REQUEST_BYTES {
            respond(&mut stream, "431 Request Header Fields Too Large", "");
            return None;
        }
    }
    let line = head.split(|b| *b == b'\r').next().and_then(|l| std::str::from_utf8(l).ok()).unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != CALLBACK_PATH {
        respond(&mut stream, "404 Not Found", &page("Not found", "Nothing here."));
        return None;
    }
    Some((stream, query.to_string()))
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn page(title: &str, sentence: &str) -> String {
    let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{0}</title></head>\
         <body><h1>{0}</h1><p>{1}</p></body></html>",
        escape(title),
        escape(sentence)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let callback = Callback::from_query("code=a%2Fb+c&state=x%3D&error=&other=1");
        assert_eq!(callback.code.as_deref(), Some("a/b c"));
        assert_eq!(callback.state.as_deref(), Some("x="));
        assert_eq!(callback.error.as_deref(), Some(""));
        assert_eq!(decode("%zz%4"), Some("%zz%4".to_string()));
        assert_eq!(decode("%ff"), None);
    }
}
