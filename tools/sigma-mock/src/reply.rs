//! Response builders: Sigma's error envelope, JSON, HTML, and bodies that
//! misbehave on purpose (trickled, aborted).

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{header, Response, StatusCode};
use serde_json::json;

use crate::state::request_id;

pub type Body = BoxBody<Bytes, io::Error>;
pub type Reply = Response<Body>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed()
}

pub fn with_body(status: u16, content_type: &str, body: Body) -> Reply {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .expect("static headers are valid")
}

pub fn json_value(status: u16, value: &serde_json::Value) -> Reply {
    with_body(status, "application/json", full(value.to_string()))
}

/// Sigma's error envelope: `{"message","code","requestId"}`, a fresh requestId each time.
pub fn envelope(status: u16, message: &str) -> Reply {
    json_value(status, &json!({ "message": message, "code": code_for(status), "requestId": request_id() }))
}

fn code_for(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "too_many_requests",
        500..=599 => "internal_error",
        _ => "error",
    }
}

/// What a CDN in front of the API answers: a page, not JSON.
pub fn html(status: u16) -> Reply {
    let page = format!(
        "<!DOCTYPE html><html><head><title>{status}</title></head>\
         <body><h1>Error {status}</h1><p>The request could not be satisfied.</p></body></html>"
    );
    with_body(status, "text/html; charset=utf-8", full(page))
}

/// Sends `bytes` one byte every `interval`.
pub fn trickled(bytes: Vec<u8>, interval: Duration) -> Body {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, io::Error>::new(1);
    tokio::spawn(async move {
        for b in bytes {
            tokio::time::sleep(interval).await;
            if tx.send_data(Bytes::from(vec![b])).await.is_err() {
                return; // the client went away
            }
        }
    });
    body.boxed()
}

/// Sends the first half of `bytes`, then aborts the connection mid-body.
pub fn aborted_midway(bytes: Vec<u8>) -> Body {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, io::Error>::new(1);
    tokio::spawn(async move {
        let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
        if tx.send_data(half).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.abort(io::Error::new(io::ErrorKind::ConnectionReset, "fault: reset mid-body"));
        }
    });
    body.boxed()
}
