//! Signed secure-embed URLs, checked by the mock's verifier as Sigma would.

mod common;

use std::process::Command;
use std::time::Duration;

use common::mock;
use serde_json::json;

fn verify(mock: &common::MockServer, url: &str) -> serde_json::Value {
    let query: String = url::form_encode(url);
    mock.get(&format!("/__mock/embed/verify?url={query}"), None).json()
}

mod url {
    pub fn form_encode(s: &str) -> String {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    }
}

#[test]
fn a_signed_url_is_valid_for_sigma_and_carries_the_claims() {
    let mock = mock(&[]);
    let claims = json!({"sub": "viewer@example.com", "teams": ["Sales"], "user_attributes": {"region": "EU"},
        "account_type": "Viewer", "ver": "1.1", "aud": "sigmacomputing"});
    let url = sigma_auth::sign_embed_url(
        "https://app.sigmacomputing.com/my-org/workbook/w-1?:nonce=abc",
        "demo-embed",
        "demo-embed-secret",
        claims.as_object().unwrap(),
        Duration::from_secs(600),
    )
    .unwrap();
    let verdict = verify(&mock, &url);
    assert_eq!(verdict["valid"], true, "{verdict}");
    let claims = &verdict["claims"];
    assert_eq!(claims["sub"], "viewer@example.com");
    assert_eq!(claims["iss"], "demo-embed");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 600);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    let wrong = sigma_auth::sign_embed_url(
        "https://app.sigmacomputing.com/w",
        "demo-embed",
        "not-the-secret",
        json!({"sub": "a@b.co"}).as_object().unwrap(),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verify(&mock, &wrong)["valid"], false, "a wrong secret fails the signature check");
}

#[test]
fn the_command_line_signs_urls_with_the_secret_from_the_environment_only() {
    let mock = mock(&[]);
    let out = Command::new(common::sigma_token())
        .args(["embed-url", "https://app.sigmacomputing.com/o/w", "--email", "viewer@example.com"])
        .args(["--claim", r#"teams=["A","B"]"#, "--claim", "account_type=Viewer", "--ttl", "120"])
        .env("SIGMA_EMBED_CLIENT_ID", "demo-embed")
        .env("SIGMA_EMBED_SECRET", "demo-embed-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8(out.stdout).unwrap();
    let verdict = verify(&mock, url.trim());
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["claims"]["teams"], json!(["A", "B"]));
    let refused = Command::new(common::sigma_token())
        .args(["embed-url", "https://app.sigmacomputing.com/o/w", "--email", "v@example.com", "--secret", "x"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(64), "a secret as a flag value is refused");
    let bad = Command::new(common::sigma_token())
        .args(["embed-url", "https://app.sigmacomputing.com/o/w", "--email", "v@example.com", "--claim", "teams=7"])
        .env("SIGMA_EMBED_CLIENT_ID", "demo-embed")
        .env("SIGMA_EMBED_SECRET", "demo-embed-secret")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("teams") && !stderr.contains("demo-embed-secret"), "{stderr}");
}

/// Node's own crypto, as Sigma's Node embed SDK uses it, decrypts what the
/// library encrypted: PBKDF2-HMAC-SHA-256 (600,000 iterations), AES-256-GCM.
const NODE_DECRYPT: &str = "const c = require('crypto');
const [salt, iv, tag, data] = process.argv[1].split('.').map((p) => Buffer.from(p, 'base64'));
if (salt.length !== 16 || iv.length !== 12 || tag.length !== 16) throw new Error('layout');
const key = c.pbkdf2Sync(process.argv[2], salt, 600000, 32, 'sha256');
const d = c.createDecipheriv('aes-256-gcm', key, iv);
d.setAuthTag(tag);
process.stdout.write(Buffer.concat([d.update(data), d.final()]).toString());";

fn node_decrypt(encrypted: &str, secret: &str) -> Option<std::process::Output> {
    let node = Command::new("node").args(["-e", NODE_DECRYPT, encrypted, secret]).output();
    if node.is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI needs Node.js (.ci/run checks for it)");
        eprintln!("skipped: no node");
    }
    node.ok()
}

#[test]
fn an_encrypted_oauth_token_is_what_node_crypto_decrypts_as_sigmas_sdk_does() {
    let encrypted = sigma_auth::encrypt_embed_oauth_token("warehouse-token-123", "demo-embed-secret").unwrap();
    assert_eq!(encrypted.split('.').count(), 4);
    assert!(!encrypted.contains("warehouse"));
    let Some(out) = node_decrypt(&encrypted, "demo-embed-secret") else { return };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "warehouse-token-123");
    // Salt and IV are fresh each time; another secret or a flipped tag fails.
    assert_ne!(sigma_auth::encrypt_embed_oauth_token("warehouse-token-123", "demo-embed-secret").unwrap(), encrypted);
    assert!(!node_decrypt(&encrypted, "another-secret").unwrap().status.success());
    let mut parts: Vec<String> = encrypted.split('.').map(str::to_string).collect();
    parts[2] = parts[2].replacen(&parts[2][..1], if &parts[2][..1] == "A" { "B" } else { "A" }, 1);
    assert!(!node_decrypt(&parts.join("."), "demo-embed-secret").unwrap().status.success());
}

#[test]
fn the_command_line_refuses_reserved_claims_and_encrypts_an_oauth_token_into_a_valid_url() {
    let mock = mock(&[]);
    let embed = |extra: &[&str]| {
        Command::new(common::sigma_token())
            .args(["embed-url", "https://app.sigmacomputing.com/o/w", "--email", "viewer@example.com"])
            .args(extra)
            .env("SIGMA_EMBED_CLIENT_ID", "demo-embed")
            .env("SIGMA_EMBED_SECRET", "demo-embed-secret")
            .output()
            .unwrap()
    };
    for claim in ["sub=admin@example.com", "exp=99999999999", "kid=other", "jti=x", "iat=1", "oauth_token=x"] {
        let out = embed(&["--claim", claim]);
        assert_eq!(out.status.code(), Some(64), "{claim}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dir = std::env::temp_dir().join(format!("sigma-embed-oauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "warehouse-token-456\n").unwrap();
    let out = embed(&["--oauth-token-file", dir.join("token").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdict = verify(&mock, String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(
        (verdict["claims"]["ver"].as_str(), verdict["claims"]["aud"].as_str()),
        (Some("1.1"), Some("sigmacomputing"))
    );
    let encrypted = verdict["claims"]["oauth_token"].as_str().unwrap();
    if let Some(out) = node_decrypt(encrypted, "demo-embed-secret") {
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "warehouse-token-456");
    }
    let _ = std::fs::remove_dir_all(dir);
    // A URL that already carries a token, percent-encoded, gets no second one.
    let out = Command::new(common::sigma_token())
        .args(["embed-url", "https://app.sigmacomputing.com/o/w?%3Ajwt=old", "--email", "viewer@example.com"])
        .env("SIGMA_EMBED_CLIENT_ID", "demo-embed")
        .env("SIGMA_EMBED_SECRET", "demo-embed-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}
