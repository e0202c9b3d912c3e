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
