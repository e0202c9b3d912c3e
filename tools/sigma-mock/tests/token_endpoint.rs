//! The token endpoint and whoami behave like Sigma's.

mod common;

use common::{assert_envelope, client_credentials, start, token_form, Mock, Reply};

#[test]
fn client_credentials_in_the_form_get_a_fresh_bearer_token() {
    let mock = start(&["--expires-in", "1234"]);
    let first = client_credentials(&mock);
    assert_eq!(first.status, 200, "{}", first.body);
    let token = first.json();
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 1234);
    let access = token["access_token"].as_str().unwrap();
    let refresh = token["refresh_token"].as_str().unwrap();
    assert!(access.len() >= 40 && refresh.len() >= 40);
    assert_ne!(access, refresh);

    let second = client_credentials(&mock).json();
    assert_ne!(second["access_token"], token["access_token"], "tokens must never repeat");
    assert_ne!(second["refresh_token"], token["refresh_token"]);
}

#[test]
fn client_credentials_as_http_basic_are_accepted() {
    let mock = start(&[]);
    // base64("demo-client:demo-secret")
    let resp = mock
        .agent()
        .post(format!("{}/v2/auth/token", mock.url))
        .header("authorization", "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=")
        .send_form([("grant_type", "client_credentials")])
        .unwrap();
    let reply = Reply::from(resp);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(mock.stats()["last_token_request"]["client_auth"], "basic");
}

#[test]
fn credentials_both_in_basic_and_form_are_a_bad_request() {
    let mock = start(&[]);
    let resp = mock
        .agent()
        .post(format!("{}/v2/auth/token", mock.url))
        .header("authorization", "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=")
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
        .unwrap();
    assert_eq!(Reply::from(resp).status, 400);
}

#[test]
fn several_clients_can_be_configured() {
    let mock = start(&["--client-id", "a", "--client-secret", "sa", "--client-id", "b", "--client-secret", "sb"]);
    let ok = |id, secret| {
        token_form(&mock, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)]).status
    };
    assert_eq!(ok("a", "sa"), 200);
    assert_eq!(ok("b", "sb"), 200);
    assert_eq!(ok("a", "sb"), 401);
    assert_eq!(ok("demo-client", "demo-secret"), 401, "the default client is replaced");
}

#[test]
fn wrong_or_unknown_credentials_get_401_in_the_envelope() {
    let mock = start(&[]);
    let wrong = token_form(
        &mock,
        &[("grant_type", "client_credentials"), ("client_id", "demo-client"), ("client_secret", "nope")],
    );
    assert_envelope(&wrong, 401, "Invalid client credentials");
    let unknown = token_form(
        &mock,
        &[("grant_type", "client_credentials"), ("client_id", "who"), ("client_secret", "demo-secret")],
    );
    assert_envelope(&unknown, 401, "Invalid client credentials");
}

#[test]
fn missing_or_unknown_grant_and_missing_parameters_get_400() {
    let mock = start(&[]);
    assert_envelope(
        &token_form(&mock, &[("client_id", "demo-client"), ("client_secret", "demo-secret")]),
        400,
        "grant_type is required",
    );
    assert_envelope(
        &token_form(
            &mock,
            &[("grant_type", "password"), ("client_id", "demo-client"), ("client_secret", "demo-secret")],
        ),
        400,
        "Unsupported grant_type",
    );
    assert_envelope(
        &token_form(&mock, &[("grant_type", "client_credentials")]),
        400,
        "client_id and client_secret are required",
    );
    assert_envelope(
        &token_form(&mock, &[("grant_type", "client_credentials"), ("client_id", "demo-client")]),
        400,
        "client_id and client_secret must be sent together",
    );
    assert_envelope(&token_form(&mock, &[("grant_type", "refresh_token")]), 400, "refresh_token is required");
    assert_eq!(
        token_form(&mock, &[("grant_type", "client_credentials"), ("grant_type", "client_credentials")]).status,
        400,
        "a repeated parameter is refused"
    );
}

#[test]
fn a_json_body_is_refused_with_415() {
    let mock = start(&[]);
    let reply = mock.post_json(
        "/v2/auth/token",
        r#"{"grant_type":"client_credentials","client_id":"demo-client","client_secret":"demo-secret"}"#,
    );
    assert_envelope(&reply, 415, "Unsupported content type; send application/x-www-form-urlencoded");
}

#[test]
fn every_response_carries_a_fresh_request_id() {
    let mock = start(&[]);
    let ids: std::collections::HashSet<String> = (0..5)
        .map(|_| {
            token_form(&mock, &[("grant_type", "client_credentials")]).json()["requestId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 5);
}

fn refresh(mock: &Mock, token: &str) -> common::Reply {
    token_form(
        mock,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ],
    )
}

#[test]
fn refresh_tokens_rotate_and_are_single_use() {
    let mock = start(&[]);
    let first = client_credentials(&mock).json();
    let old = first["refresh_token"].as_str().unwrap();

    let rotated = refresh(&mock, old);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = rotated.json();
    let new = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_ne!(rotated["access_token"], first["access_token"]);

    assert_envelope(&refresh(&mock, old), 401, "Invalid refresh token");
    // The refresh grant without client credentials is accepted too.
    let bare = token_form(&mock, &[("grant_type", "refresh_token"), ("refresh_token", new)]);
    assert_eq!(bare.status, 200, "{}", bare.body);
}

#[test]
fn an_unknown_refresh_token_gets_401() {
    let mock = start(&[]);
    assert_envelope(&refresh(&mock, "mock_rt_made_up"), 401, "Invalid refresh token");
}

#[test]
fn a_refresh_token_presented_by_another_client_is_refused_and_not_burnt() {
    let mock = start(&["--client-id", "a", "--client-secret", "sa", "--client-id", "b", "--client-secret", "sb"]);
    let issued =
        token_form(&mock, &[("grant_type", "client_credentials"), ("client_id", "a"), ("client_secret", "sa")]).json();
    let token = issued["refresh_token"].as_str().unwrap();
    let stolen = token_form(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "b"), ("client_secret", "sb")],
    );
    assert_envelope(&stolen, 401, "Invalid refresh token");
    let owner = token_form(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "a"), ("client_secret", "sa")],
    );
    assert_eq!(owner.status, 200, "{}", owner.body);
}

#[test]
fn an_expired_refresh_token_says_refresh_token_expired() {
    let mock = start(&["--refresh-expires-in", "1"]);
    let token = client_credentials(&mock).json()["refresh_token"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_envelope(&refresh(&mock, &token), 401, "Refresh token expired");
}

#[test]
fn expire_with_refresh_flag_expires_refresh_tokens_now() {
    let mock = start(&[]);
    let token = client_credentials(&mock).json()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(mock.post_empty("/__mock/expire?refresh=1").status, 200);
    assert_envelope(&refresh(&mock, &token), 401, "Refresh token expired");
}

#[test]
fn whoami_answers_a_live_token_and_refuses_missing_malformed_and_expired_ones() {
    let mock = start(&[]);
    let access = client_credentials(&mock).json()["access_token"].as_str().unwrap().to_string();
    let ok = mock.get("/v2/whoami", Some(&format!("Bearer {access}")));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["clientId"], "demo-client");

    assert_envelope(&mock.get("/v2/whoami", None), 401, "Token missing or malformed");
    assert_envelope(&mock.get("/v2/whoami", Some("Bearer")), 401, "Token missing or malformed");
    assert_envelope(&mock.get("/v2/whoami", Some(&format!("Basic {access}"))), 401, "Token missing or malformed");
    assert_envelope(&mock.get("/v2/whoami", Some("Bearer not-a-token")), 401, "Token missing or malformed");

    assert_eq!(mock.post_empty("/__mock/expire").status, 200);
    assert_envelope(&mock.get("/v2/whoami", Some(&format!("Bearer {access}"))), 401, "Token expired");
    let stats = mock.stats();
    assert_eq!(stats["whoami"], 6);
    assert_eq!(stats["whoami_by_status"]["200"], 1);
    assert_eq!(stats["whoami_by_status"]["401"], 5);
}

#[test]
fn access_tokens_expire_after_expires_in() {
    let mock = start(&["--expires-in", "1"]);
    let access = client_credentials(&mock).json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(mock.get("/v2/whoami", Some(&format!("Bearer {access}"))).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_envelope(&mock.get("/v2/whoami", Some(&format!("Bearer {access}"))), 401, "Token expired");
}

#[test]
fn expire_leaves_refresh_tokens_usable_by_default() {
    let mock = start(&[]);
    let token = client_credentials(&mock).json()["refresh_token"].as_str().unwrap().to_string();
    mock.post_empty("/__mock/expire");
    assert_eq!(refresh(&mock, &token).status, 200);
}

#[test]
fn unknown_paths_and_wrong_methods_get_the_envelope() {
    let mock = start(&[]);
    let resp = mock.agent().get(format!("{}/v2/nothing", mock.url)).call().unwrap();
    assert_envelope(&Reply::from(resp), 404, "Not found");
    let resp = mock.agent().get(format!("{}/v2/auth/token", mock.url)).call().unwrap();
    assert_envelope(&Reply::from(resp), 405, "Method not allowed; use POST");
}
