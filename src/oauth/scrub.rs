//! Keeps secrets out of anything a server said that reaches an error.
//!
//! A misbehaving or hostile server can echo what it was sent (the client
//! secret, the refresh token, the Basic credentials, the whole form body) in
//! any encoding, any case, cut short or split across fields. Listing the
//! encodings of a secret to replace them is a race that cannot be won, so the
//! rule is detection: every piece of server text that would reach an error
//! (message, `error_description`, `requestId`, transport error text) is decoded
//! every way this module knows (percent and form encoding, repeatedly; JSON and
//! HTML escapes; base64 in either alphabet at any alignment; hex; base32),
//! each result is reduced to its lower-case letters and digits (full-width
//! forms folded to ASCII), and if any eight consecutive letters and digits of a
//! secret appear in it, forwards or backwards, the text is withheld whole. A field that looks clean but completes a secret together
//! with another field withholds them all.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode};

/// This many consecutive letters and digits of a secret give it away.
const WINDOW: usize = 8;
/// Secrets longer than this (normalised) are checked at every 4th position:
/// an echo of 11 or more consecutive characters is still caught.
const DENSE_UP_TO: usize = 256;
/// Server text is cut to this many characters before it is judged and shown.
pub(crate) const MAX_SERVER_TEXT: usize = 300;
/// What a withheld field says instead.
pub(crate) const WITHHELD: &str = "[redacted] (the server's text echoed a credential)";

pub(crate) struct Scrubber {
    needles: Vec<Needle>,
}

/// One secret, as the fragments whose presence gives it away.
struct Needle {
    /// Compared against normalised text (letters and digits, lower-case), or
    /// against raw text for a secret with too few letters and digits.
    fragments: Vec<Zeroizing<String>>,
    normalised: bool,
}

impl Scrubber {
    /// `secrets` are the client secret and any token the request carried.
    pub(crate) fn new(secrets: &[&str]) -> Scrubber {
        let needles = secrets.iter().filter_map(|s| Needle::new(s)).collect();
        Scrubber { needles }
    }

    /// Whether `said`, decoded any way this module knows, holds a secret.
    pub(crate) fn reveals(&self, said: &str) -> bool {
        if self.needles.is_empty() {
            return false;
        }
        let candidates = decodings(said);
        self.needles.iter().any(|needle| {
            candidates.iter().any(|candidate| {
                if needle.normalised {
                    // Forwards and backwards: reversing a string hides nothing.
                    let text = Zeroizing::new(normalise(candidate));
                    let reversed = Zeroizing::new(text.chars().rev().collect::<String>());
                    needle.fragments.iter().any(|f| text.contains(f.as_str()) || reversed.contains(f.as_str()))
                } else {
                    needle.fragments.iter().any(|f| candidate.contains(f.as_str()))
                }
            })
        })
    }

    /// Server text as shown: printable, at most 300 characters.
    pub(crate) fn shown(said: &str) -> String {
        said.chars().filter(|c| !c.is_control()).take(MAX_SERVER_TEXT).collect()
    }

    /// A server's fields as they may be shown, each None when withheld: every
    /// field that reveals a secret, or all of them when only their
    /// concatenation (in either order) does.
    pub(crate) fn fields<const N: usize>(&self, said: [Option<&str>; N]) -> [Option<String>; N] {
        let shown = said.map(|s| s.map(Scrubber::shown));
        let present: Vec<&str> = shown.iter().flatten().map(String::as_str).collect();
        let joined = present.join("");
        let reversed = present.iter().rev().copied().collect::<Vec<_>>().join("");
        if self.reveals(&joined) || self.reveals(&reversed) {
            let alone: Vec<bool> = shown.iter().map(|s| s.as_deref().is_some_and(|s| self.reveals(s))).collect();
            if !alone.contains(&true) {
                return [(); N].map(|_| None); // only together: withhold everything
            }
            let mut index = 0;
            return shown.map(|s| {
                let keep = !alone[index];
                index += 1;
                s.filter(|_| keep)
            });
        }
        shown
    }

    /// A `requestId` worth echoing: a plausible id (at most 128 of
    /// `[A-Za-z0-9._:-]`). Whether it gives a secret away is judged by `fields`.
    pub(crate) fn plausible_request_id(said: &str) -> bool {
        !said.is_empty()
            && said.len() <= 128
            && said.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    }

    /// A transport error whose text (which may quote the server) gives a
    /// secret away loses that text, keeping only what kind of failure it was.
    pub(crate) fn error(&self, error: Error) -> Error {
        let text = format!("{} {}", error.message(), error.request_id().unwrap_or_default());
        if !self.reveals(&text) {
            return error;
        }
        let what = match error.code() {
            ErrorCode::Timeout => "the token request timed out",
            ErrorCode::Protocol => "the server broke the HTTP protocol",
            ErrorCode::Network => "network error talking to the token endpoint",
            _ => "the token request failed",
        };
        error.with_message(format!("{what} {WITHHELD}")).with_request_id(None)
    }
}

impl Needle {
    fn new(secret: &str) -> Option<Needle> {
        let normalised = Zeroizing::new(normalise(secret));
        if normalised.chars().count() < 6 {
            if secret.chars().count() < 4 {
                return None; // too short to look for without blanking ordinary words
            }
            return Some(Needle { fragments: windows(secret), normalised: false });
        }
        let mut fragments = windows(&normalised);
        // Base64 is decoded before judging, but a server that changes its case
        // (or a proxy that does) makes it undecodable: so the secret's own
        // base64, raw and form-encoded, at each alignment, is looked for too.
        for form in [Zeroizing::new(secret.to_string()), Zeroizing::new(form_encoded(secret))] {
            for stable in base64_middles(form.as_bytes()) {
                fragments.extend(windows(&normalise(&stable)));
            }
        }
        Some(Needle { fragments, normalised: true })
    }
}

/// The text's windows of `WINDOW` characters (every 4th for long texts).
fn windows(text: &str) -> Vec<Zeroizing<String>> {
    let chars = Zeroizing::new(text.chars().collect::<Vec<char>>());
    let width = WINDOW.min(chars.len());
    let stride = if chars.len() <= DENSE_UP_TO { 1 } else { 4 };
    (0..=chars.len() - width)
        .step_by(stride)
        .map(|start| Zeroizing::new(chars[start..start + width].iter().collect::<String>()))
        .collect()
}

/// The part of base64(text) that is the same whatever precedes `text` in a
/// longer encoded message, for each of the three alignments.
fn base64_middles(text: &[u8]) -> Vec<Zeroizing<String>> {
    (0..3usize)
        .map(|offset| {
            let mut padded = Zeroizing::new(vec![0u8; offset]);
            padded.extend_from_slice(text);
            let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD_NO_PAD.encode(padded.as_slice()));
            let (start, end) = ((offset * 4).div_ceil(3), padded.len() * 4 / 3);
            Zeroizing::new(encoded.get(start..end).unwrap_or_default().to_string())
        })
        .collect()
}

/// The form encoding this library sends a secret in.
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Letters and digits only, lower-case, full-width forms folded to ASCII:
/// what survives any re-encoding.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `text` and everything it decodes to: URL-decoded (up to three times), JSON-
/// and HTML-unescaped, and the base64, hex and base32 runs in each of those
/// decoded (and URL-decoded once more).
fn decodings(text: &str) -> Vec<Zeroizing<String>> {
    let mut layers: Vec<Zeroizing<String>> = vec![Zeroizing::new(text.to_string())];
    let mut frontier = 0;
    for _ in 0..3 {
        let end = layers.len();
        for i in frontier..end {
            let layer = layers[i].clone();
            for next in [percent_decode(&layer), json_unescape(&layer), html_unescape(&layer)] {
                if !layers.iter().any(|l| **l == *next) {
                    layers.push(next);
                }
            }
        }
        frontier = end;
    }
    let mut out = layers.clone();
    for layer in &layers {
        for bytes in binary_decodings(layer) {
            let plain = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
            out.push(percent_decode(&plain));
            out.push(plain);
        }
    }
    out
}

fn percent_decode(text: &str) -> Zeroizing<String> {
    let spaced = Zeroizing::new(text.replace('+', " "));
    let bytes = spaced.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Zeroizing::new(String::from_utf8_lossy(&out).into_owned())
}

/// `\uXXXX`, `\/`, `\"` and the like, as JSON and many languages write them.
fn json_unescape(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let code: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&code, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&code),
                }
            }
            Some('n' | 'r' | 't') => out.push(' '),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// `&amp;`, `&#47;`, `&#x2F;` and the other entities that hide punctuation.
fn html_unescape(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every run of base64, hex or base32 characters long enough to hide a
/// secret's window, decoded at each alignment it could have.
fn binary_decodings(text: &str) -> Vec<Zeroizing<Vec<u8>>> {
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    let mut out = Vec::new();
    let base64_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_');
    for run in runs(text, base64_char, 11) {
        for skip in 0..4 {
            let part = &run[skip..];
            let usable = &part[..part.len() - usize::from(part.len() % 4 == 1)];
            for engine in [&standard, &url_safe] {
                if let Ok(bytes) = engine.decode(usable) {
                    out.push(Zeroizing::new(bytes));
                }
            }
        }
    }
    for run in runs(text, |c| c.is_ascii_hexdigit(), 16) {
        for skip in 0..2 {
            let digits = &run.as_bytes()[skip..];
            let bytes = digits
                .chunks_exact(2)
                .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
                .collect();
            out.push(Zeroizing::new(bytes));
        }
    }
    for run in runs(text, |c| c.is_ascii_alphanumeric() && !matches!(c, '0' | '1' | '8' | '9'), 13) {
        for skip in 0..8.min(run.len()) {
            out.push(base32_decode(&run[skip..]));
        }
    }
    out
}

/// Maximal runs of characters matching `keep`, at least `min` long.
fn runs(text: &str, keep: impl Fn(char) -> bool, min: usize) -> Vec<&str> {
    text.split(|c: char| !keep(c)).filter(|r| r.len() >= min).collect()
}

/// RFC 4648 base32 (either case, padding and trailing bits ignored).
fn base32_decode(text: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => break,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const SECRET: &str = "Xy9/kQ+zR=s3cr3t&a b";

    fn scrubber() -> Scrubber {
        Scrubber::new(&[SECRET, "mock_rt_refresh-token-value"])
    }

    fn url(s: &str, keep: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[test]
    fn every_way_a_server_might_echo_the_secret_is_caught() {
        let s = scrubber();
        let b32 = |bytes: &[u8]| {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
            let (mut out, mut buffer, mut bits) = (String::new(), 0u64, 0);
            for b in bytes {
                buffer = (buffer << 8) | u64::from(*b);
                bits += 8;
                while bits >= 5 {
                    bits -= 5;
                    out.push(alphabet[((buffer >> bits) & 31) as usize] as char);
                }
            }
            out
        };
        let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
        let json_escaped: String = SECRET.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let echoes = [
            SECRET.to_string(),
            url(SECRET, "-._~"),
            url(SECRET, "/-._~"),
            url(&url(SECRET, "-._~"), "-._~"),
            url(SECRET, "-._~").to_lowercase(),
            SECRET.to_lowercase(),
            SECRET.to_uppercase(),
            format!("{{\"client_secret\": \"{}\"}}", SECRET.replace('/', "\\/").replace('&', "\\u0026")),
            json_escaped,
            SECRET.replace('/', "&#x2F;").replace('&', "&amp;"),
            hex.clone(),
            hex.to_uppercase(),
            b32(SECRET.as_bytes()),
            STANDARD.encode(format!("cid1:{}", url(SECRET, "-._~"))),
            STANDARD.encode(format!("cid1:{SECRET}")).to_lowercase(),
            URL_SAFE.encode(format!("grant_type=client_credentials&client_secret={}", url(SECRET, "-._"))),
            STANDARD.encode(format!("ab{}", url(SECRET, "-._~"))),
            format!("{}...", &SECRET[..13]),
            format!("...{}", &SECRET[8..]),
            SECRET.replace(' ', "  ").replace('/', " / "),
            SECRET.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).filter(|_| c != ' ').unwrap_or(c)).collect(),
            SECRET.chars().rev().collect(),
        ];
        for echo in &echoes {
            assert!(s.reveals(&format!("bad credentials <{echo}>")), "missed: {echo}");
        }
        assert!(!s.reveals("Invalid client credentials"));
        assert!(!s.reveals("3f2a9c1b7d6e4a5b8c9d0e1f2a3b4c5d"));
    }

    #[test]
    fn a_field_that_gives_a_secret_away_is_withheld_and_halves_together_withhold_all() {
        let s = scrubber();
        let [message, id] = s.fields([Some("echo Xy9/kQ+zR=s3cr3t"), Some("req-123")]);
        assert_eq!((message, id.as_deref()), (None, Some("req-123")));
        let [message, id] = s.fields([Some("echo Xy9/kQ+z"), Some("R=s3cr3t")]);
        assert_eq!((message, id), (None, None), "each half is harmless, together they are the secret");
        let [message] = s.fields([Some("Invalid client credentials\n")]);
        assert_eq!(message.as_deref(), Some("Invalid client credentials"));
    }

    #[test]
    fn non_ascii_secrets_never_panic_and_are_caught() {
        let s = Scrubber::new(&["pässwörd-sécret-ünïcode"]);
        assert!(s.reveals("echo: pässwörd-sécret-ünïcode"));
        assert!(s.reveals(&url("pässwörd-sécret-ünïcode", "")));
        assert!(s.reveals(&STANDARD.encode("pässwörd-sécret-ünïcode")));
        let long = "é".repeat(400);
        assert!(!s.reveals(&long));
        assert_eq!(Scrubber::shown(&long).chars().count(), MAX_SERVER_TEXT);
    }

    #[test]
    fn request_ids_must_be_plausible() {
        assert!(Scrubber::plausible_request_id("3f2a-b9c1.77:x_y"));
        for bad in ["", "has space", &"a".repeat(129), "<script>"] {
            assert!(!Scrubber::plausible_request_id(bad), "{bad}");
        }
    }

    #[test]
    fn short_or_symbol_only_secrets() {
        let s = Scrubber::new(&["", "abc"]);
        assert!(!s.reveals("a perfectly normal abc message"));
        let symbols = Scrubber::new(&["!@#$%^&*()"]);
        assert!(symbols.reveals("echo !@#$%^&*()"));
        assert!(symbols.reveals(&url("!@#$%^&*()", "")));
    }

    #[test]
    fn long_tokens_are_checked_sparsely_but_still_caught() {
        let token = "t".repeat(10) + &"abcdefghij0123456789".repeat(40);
        let s = Scrubber::new(&[&token]);
        assert!(s.reveals(&format!("echo {}", &token[300..320])));
    }
}
