//! Secrets and tokens stay where they belong: a server that echoes what it was
//! sent, in any encoding and any field, never gets the secret or a token into
//! an error, its Debug, its requestId, or the command line's stderr.

mod common;

use std::process::Command;

use base64::Engine;
use common::mock;
use sigma_auth::{ClientAuth, Config};

const ID: &str = "cid1";
/// Reserved characters, so that every encoding differs from the raw text.
const SECRET: &str = "Xy9/kQ+zR=s3cr3t&a b";

/// Whether `text` gives `secret` away in any encoding a server could use:
/// raw, percent- or form-decoded, or inside base64 (either alphabet) at any
/// alignment, itself possibly percent-encoded. Written independently of the
/// library's scrubber, as an oracle.
pub fn reveals(text: &str, secret: &str) -> bool {
    let decoded = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    let mut candidates = vec![text.to_string(), decoded(text), decoded(&decoded(text))];
    let base64_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_' | '=');
    for run in text.split(|c: char| !base64_char(c)).filter(|r| r.len() >= 8) {
        let run = run.trim_end_matches('=');
        for skip in 0..4 {
            let Some(part) = run.get(skip..) else { continue };
            for engine in
                [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
            {
                // A trailing partial group decodes too, unless it is a lone character.
                let usable = if part.len() % 4 == 1 { &part[..part.len() - 1] } else { part };
                if let Ok(bytes) = engine.decode(usable) {
                    let plain = String::from_utf8_lossy(&bytes).into_owned();
                    candidates.push(decoded(&plain));
                    candidates.push(plain);
                }
            }
        }
    }
    candidates.iter().any(|c| c.contains(secret))
}

#[test]
fn the_oracle_sees_through_every_encoding() {
    let form: String = url_form(SECRET);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for leaked in [
        SECRET.to_string(),
        form.clone(),
        format!("x {} y", b64(&format!("{ID}:{form}"))),
        b64(&format!("grant_type=client_credentials&client_secret={form}")),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ab{SECRET}")),
    ] {
        assert!(reveals(&leaked, SECRET), "{leaked}");
    }
    assert!(!reveals("Sigma refused the client credentials [redacted]", SECRET));
}

fn url_form(s: &str) -> String {
    form_urlencoded_byte_serialize(s)
}

fn form_urlencoded_byte_serialize(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const FIELDS: [&str; 4] = ["message", "requestId", "code", "error_description"];
const ENCODINGS: [&str; 6] = ["raw", "form", "percent", "base64", "base64url", "base64nopad"];

#[test]
fn a_server_echoing_the_secret_in_any_field_and_encoding_never_gets_it_into_an_error() {
    let mock = mock(&["--client-id", ID, "--client-secret", SECRET]);
    for auth in [ClientAuth::Form, ClientAuth::Basic] {
        let mut config = Config::new(&mock.url, ID, SECRET).unwrap();
        config.set_client_auth(auth);
        config.set_max_attempts(1).unwrap();
        for field in FIELDS {
            for what in ["secret", "body", "authorization"] {
                for encoding in ENCODINGS {
                    mock.faults(&format!(
                        r#"[{{"kind":"echo","field":"{field}","what":"{what}","encoding":"{encoding}"}}]"#
                    ));
                    let error = sigma_auth::get_token(&config).unwrap_err();
                    let texts = [
                        error.to_string(),
                        format!("{error:?}"),
                        error.message().to_string(),
                        error.request_id().unwrap_or_default().to_string(),
                    ];
                    for text in texts {
                        assert!(!reveals(&text, SECRET), "{auth:?} {field} {what} {encoding}: {text}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_server_echoing_the_refresh_token_never_gets_it_into_an_error() {
    let mock = mock(&[]);
    let config = common::config(&mock);
    let token = sigma_auth::get_token(&config).unwrap();
    let refresh = token.refresh_token().unwrap().to_string();
    for field in FIELDS {
        for encoding in ENCODINGS {
            mock.faults(&format!(
                r#"[{{"kind":"echo","field":"{field}","what":"refresh_token","encoding":"{encoding}"}}]"#
            ));
            let error = sigma_auth::refresh_token(&config, &refresh).unwrap_err();
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!reveals(&text, &refresh), "{field} {encoding}: {text}");
            }
        }
    }
}

#[test]
fn an_implausible_request_id_is_dropped_not_echoed() {
    let mock = mock(&[]);
    for id in ["has spaces in it", "<script>", "x".repeat(129).as_str()] {
        let body = serde_json::json!({"message": "nope", "code": "unauthorized", "requestId": id}).to_string();
        mock.faults(&serde_json::json!([{"kind": "body", "status": 401, "body": body}]).to_string());
        let error = sigma_auth::get_token(&common::config(&mock)).unwrap_err();
        assert_eq!(error.request_id(), None, "{id}");
        assert!(!error.to_string().contains(id));
    }
}

#[test]
fn the_command_line_prints_no_echoed_secret() {
    let mock = mock(&["--client-id", ID, "--client-secret", SECRET]);
    for encoding in ENCODINGS {
        mock.faults(&format!(r#"[{{"kind":"echo","field":"message","what":"body","encoding":"{encoding}"}}]"#));
        let out = Command::new(common::sigma_token())
            .args(["--no-cache", "--endpoint", &mock.url, "--client-id", ID])
            .env("SIGMA_CLIENT_SECRET", SECRET)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!reveals(&stderr, SECRET), "{encoding}: {stderr}");
        assert!(stderr.contains("INVALID_CLIENT"), "{stderr}");
    }
}
