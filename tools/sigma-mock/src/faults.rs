//! Faults injected into the next token requests, one fault per request, in order.
//!
//! Posted as a JSON list to `/__mock/faults`, e.g.
//! `[{"kind":"status","status":429,"retry_after":"1"},{"kind":"delay","ms":2000}]`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Wait `ms` before the response headers, then answer normally.
    Delay { ms: u64 },
    /// Answer with this status and no token: the Sigma envelope, or an HTML page
    /// (as a CDN in front of Sigma does) when `html` is true.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        html: bool,
        #[serde(default)]
        message: Option<String>,
    },
    /// 200 with an HTML body.
    Html,
    /// 200 with a JSON token response cut in half.
    Truncated,
    /// 200 with a valid token response padded with spaces to exactly `bytes` bytes.
    Oversize { bytes: usize },
    /// Close the connection without sending a response.
    Drop,
    /// Send the headers and part of the body of a valid answer, then abort the connection.
    Reset,
    /// Send a valid answer one byte every `interval_ms`.
    Trickle { interval_ms: u64 },
    /// Answer with exactly this status, content type and body.
    Body {
        #[serde(default = "ok")]
        status: u16,
        #[serde(default = "json")]
        content_type: String,
        body: String,
    },
    /// Answer with a redirect to `location`.
    Redirect {
        #[serde(default = "found")]
        status: u16,
        location: String,
    },
    /// Answer with Sigma's envelope whose `field` ("message", "requestId",
    /// "code" or "error_description") echoes `what` the client sent ("secret",
    /// "refresh_token", "body" or "authorization") in `encoding` ("raw", "form",
    /// "percent", "base64", "base64url", "base64nopad"): a server that leaks
    /// back what it was given.
    Echo {
        #[serde(default = "unauthorized")]
        status: u16,
        field: EchoField,
        what: EchoWhat,
        #[serde(default)]
        encoding: EchoEncoding,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub enum EchoField {
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "requestId")]
    RequestId,
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "error_description")]
    ErrorDescription,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum EchoWhat {
    Secret,
    RefreshToken,
    Body,
    Authorization,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum EchoEncoding {
    #[default]
    Raw,
    Form,
    Percent,
    Base64,
    Base64url,
    Base64nopad,
}

fn unauthorized() -> u16 {
    401
}

fn ok() -> u16 {
    200
}
fn found() -> u16 {
    302
}
fn json() -> String {
    "application/json".into()
}

/// Parses and checks a fault list, so a harness learns of a typo at once, not
/// through a confusing test failure later.
pub fn parse_list(body: &[u8]) -> Result<Vec<Fault>, String> {
    let faults: Vec<Fault> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for fault in &faults {
        match fault {
            Fault::Status { status, .. } if !(400..=599).contains(status) => {
                return Err(format!("status fault needs a 4xx or 5xx status, got {status}"));
            }
            Fault::Redirect { status, .. } if !(300..=399).contains(status) => {
                return Err(format!("redirect fault needs a 3xx status, got {status}"));
            }
            Fault::Body { status, .. } if !(100..=599).contains(status) => {
                return Err(format!("body fault needs a valid status, got {status}"));
            }
            Fault::Trickle { interval_ms: 0 } => return Err("trickle needs interval_ms > 0".into()),
            Fault::Echo { status, .. } if !(400..=599).contains(status) => {
                return Err(format!("echo fault needs a 4xx or 5xx status, got {status}"));
            }
            _ => {}
        }
    }
    Ok(faults)
}
