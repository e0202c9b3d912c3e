//! Keeps secrets out of anything a server said that reaches an error.
//!
//! A misbehaving or hostile server can echo what it was sent: the client
//! secret, the refresh token, the Basic credentials, the whole form body, in
//! any encoding. Every piece of server text that reaches an [`Error`] (message,
//! `error_description`, `requestId`, and transport error text) goes through a
//! [`Scrubber`] that knows each secret of the request in every form it could
//! come back in: raw; form-encoded and percent-encoded (upper- and lower-case
//! hex, unreserved characters kept or encoded too), once or twice (a form body
//! echoed form-encoded); base64, standard and URL-safe, with and without
//! padding, of the secret alone, of `id:secret` (raw and form-encoded, as HTTP
//! Basic sends it), and of the secret at each of the three alignments it can
//! have inside a longer base64 text (such as an echoed form body).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::Error;

/// Shorter fragments are not scrubbed: they would blank ordinary words.
const MIN_FRAGMENT: usize = 6;
/// Server text is cut to this many characters.
const MAX_SERVER_TEXT: usize = 300;
const REDACTED: &str = "[redacted]";

pub(crate) struct Scrubber {
    forbidden: Vec<Zeroizing<String>>,
}

impl Scrubber {
    /// `client_id` is needed for the `id:secret` forms; `secrets` are the client
    /// secret and any token sent or held.
    pub(crate) fn new(client_id: &str, secrets: &[&str]) -> Scrubber {
        let mut forbidden: Vec<Zeroizing<String>> = Vec::new();
        let mut add = |text: String| {
            if text.len() >= MIN_FRAGMENT && !forbidden.iter().any(|f| **f == text) {
                forbidden.push(Zeroizing::new(text));
            }
        };
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            let encoded = url_encodings(secret);
            for once in &encoded {
                for twice in url_encodings(once) {
                    add(twice.to_string());
                }
            }
            for pair in [format!("{client_id}:{secret}"), format!("{}:{}", form_encode(client_id, true), *encoded[1])] {
                let pair = Zeroizing::new(pair);
                for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                    add(engine.encode(pair.as_bytes()));
                }
            }
            for text in &encoded[..2] {
                for fragment in base64_fragments(text.as_bytes()) {
                    add(fragment);
                }
            }
        }
        // Longest first, so a form that contains another is replaced whole.
        forbidden.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Scrubber { forbidden }
    }

    /// Printable, at most 300 characters, every secret form replaced.
    pub(crate) fn text(&self, said: &str) -> String {
        let mut text: String = said.chars().filter(|c| !c.is_control()).take(MAX_SERVER_TEXT).collect();
        for secret in &self.forbidden {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        // A secret cut by the truncation would survive the replace: drop a tail
        // that begins one.
        for secret in &self.forbidden {
            if let Some(cut) = (MIN_FRAGMENT..secret.len()).rev().find(|&n| text.ends_with(&secret[..n])) {
                text.truncate(text.len() - cut);
                text.push_str(REDACTED);
            }
        }
        text
    }

    /// Whether `said` holds any form of a secret.
    pub(crate) fn holds_secret(&self, said: &str) -> bool {
        self.forbidden.iter().any(|s| said.contains(s.as_str()))
    }

    /// A `requestId` worth echoing: a plausible id (at most 128 of
    /// `[A-Za-z0-9._:-]`) that holds no secret. Anything else is dropped.
    pub(crate) fn request_id(&self, said: &str) -> Option<String> {
        let plausible = !said.is_empty()
            && said.len() <= 128
            && said.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        (plausible && !self.holds_secret(said)).then(|| said.to_string())
    }

    /// The error with its message (and requestId) scrubbed.
    pub(crate) fn error(&self, error: Error) -> Error {
        let message = self.text(error.message());
        let request_id = error.request_id().and_then(|id| self.request_id(id));
        error.with_message(message).with_request_id(request_id)
    }
}

/// `value` as it is, and in each URL encoding a server might use: the first
/// two are the raw value and the form encoding this library sends.
fn url_encodings(value: &str) -> [Zeroizing<String>; 7] {
    [
        Zeroizing::new(value.to_string()),
        Zeroizing::new(form_encode(value, true)),
        Zeroizing::new(form_encode(value, false)),
        Zeroizing::new(encode(value, Style::Percent, true)),
        Zeroizing::new(encode(value, Style::Percent, false)),
        Zeroizing::new(encode(value, Style::AllButAlphanumeric, true)),
        Zeroizing::new(encode(value, Style::AllButAlphanumeric, false)),
    ]
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    /// application/x-www-form-urlencoded: space as `+`, `*` kept.
    Form,
    /// RFC 3986: unreserved characters kept, space as `%20`.
    Percent,
    /// Every byte but ASCII letters and digits encoded.
    AllButAlphanumeric,
}

/// application/x-www-form-urlencoded, with upper-case hex (as this library
/// sends it) or lower-case.
pub(crate) fn form_encode(value: &str, upper: bool) -> String {
    encode(value, Style::Form, upper)
}

fn encode(value: &str, style: Style, upper: bool) -> String {
    let hex: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match (byte, style) {
            (b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9', _) => out.push(byte as char),
            (b'-' | b'.' | b'_', Style::Form | Style::Percent) => out.push(byte as char),
            (b'*', Style::Form) | (b'~', Style::Percent) => out.push(byte as char),
            (b' ', Style::Form) => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex[(byte >> 4) as usize] as char);
                out.push(hex[(byte & 15) as usize] as char);
            }
        }
    }
    out
}

/// The part of base64(text) that is the same whatever precedes `text` in a
/// longer encoded message, for each of the three alignments, in the standard
/// and URL-safe alphabets.
fn base64_fragments(text: &[u8]) -> Vec<String> {
    let mut fragments = Vec::new();
    for offset in 0..3usize {
        let mut padded = Zeroizing::new(vec![0u8; offset]);
        padded.extend_from_slice(text);
        // Characters wholly determined by `text`: skip those touched by the
        // zero prefix, and the last group, which depends on what follows.
        let start = (offset * 4).div_ceil(3);
        let end = padded.len() * 4 / 3;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = Zeroizing::new(engine.encode(padded.as_slice()));
            if end > start + MIN_FRAGMENT && end <= encoded.len() {
                fragments.push(encoded[start..end].to_string());
            }
        }
    }
    fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "cid1";
    const SECRET: &str = "Xy9/kQ+zR= a&b~c*d";

    fn scrubber() -> Scrubber {
        Scrubber::new(ID, &[SECRET, "mock_rt_refresh-token-value"])
    }

    #[test]
    fn every_encoding_of_the_secret_is_replaced() {
        let s = scrubber();
        let basic = STANDARD.encode(format!("{ID}:{}", form_encode(SECRET, true)));
        let forms = [
            SECRET.to_string(),
            form_encode(SECRET, true),
            form_encode(SECRET, false),
            encode(SECRET, Style::Percent, true),
            encode(SECRET, Style::AllButAlphanumeric, false),
            form_encode(&form_encode(SECRET, true), true),
            basic.clone(),
            STANDARD_NO_PAD.encode(format!("{ID}:{SECRET}")),
            URL_SAFE.encode(format!("{ID}:{SECRET}")),
            URL_SAFE_NO_PAD.encode(format!("{ID}:{}", form_encode(SECRET, true))),
            format!("Basic {basic}"),
        ];
        for form in &forms {
            let said = format!("bad credentials: <{form}> end");
            let text = s.text(&said);
            assert!(!text.contains(form.as_str()), "{form} survived: {text}");
            assert!(text.contains("[redacted]") && text.starts_with("bad credentials: <"), "{text}");
        }
    }

    #[test]
    fn the_secret_inside_any_longer_base64_text_is_replaced() {
        let s = scrubber();
        for prefix in ["", "a", "ab", "grant_type=client_credentials&client_id=cid1&client_secret="] {
            for with_form in [false, true] {
                let secret = if with_form { form_encode(SECRET, true) } else { SECRET.to_string() };
                let body = format!("{prefix}{secret}&tail=1");
                for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
                    let echoed = engine.encode(&body);
                    assert!(s.holds_secret(&echoed), "{prefix:?} {with_form}: {echoed}");
                    assert!(!s.holds_secret(&engine.encode(prefix.to_string() + "nothing secret here")));
                }
            }
        }
    }

    #[test]
    fn a_secret_cut_by_truncation_does_not_survive() {
        let s = scrubber();
        let long = format!("{}{SECRET}", "x".repeat(MAX_SERVER_TEXT - 8));
        let text = s.text(&long);
        assert!(!text.contains(&SECRET[..8]), "{text}");
        assert_eq!(s.text("line\nbreak\u{7}"), "linebreak");
    }

    #[test]
    fn request_ids_must_be_plausible_and_hold_no_secret() {
        let s = scrubber();
        assert_eq!(s.request_id("3f2a-b9c1.77:x_y").as_deref(), Some("3f2a-b9c1.77:x_y"));
        assert_eq!(s.request_id(""), None);
        assert_eq!(s.request_id("has space"), None);
        assert_eq!(s.request_id(&"a".repeat(129)), None);
        assert_eq!(s.request_id("mock_rt_refresh-token-value"), None);
        let alnum = Scrubber::new(ID, &["abcdef123456"]);
        assert_eq!(alnum.request_id("req-abcdef123456"), None);
    }

    #[test]
    fn short_or_empty_secrets_blank_nothing() {
        let s = Scrubber::new("id", &["", "abc"]);
        assert_eq!(s.text("a perfectly normal abc message"), "a perfectly normal abc message");
    }
}
