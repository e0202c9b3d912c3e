//! The C ABI driven from Rust: argument checks, ownership, and a full flow
//! against the mock.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use sigma_auth::ffi::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

unsafe fn text(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string())
}

const INVALID: sigma_status = sigma_status::SIGMA_STATUS_INVALID_ARGUMENT;
const OK: sigma_status = sigma_status::SIGMA_STATUS_OK;

unsafe fn new_config(url: &str, secret: &str) -> *mut sigma_config {
    let mut config = ptr::null_mut();
    let status = unsafe {
        sigma_config_new(c(url).as_ptr(), c("demo-client").as_ptr(), c(secret).as_ptr(), &mut config, ptr::null_mut())
    };
    assert_eq!(status, OK);
    config
}

/// Takes the error out of a failed call, checks it, frees it, returns its message.
unsafe fn take_error(error: *mut sigma_error, want: sigma_status) -> String {
    assert!(!error.is_null());
    unsafe {
        assert_eq!(sigma_error_code(error), want);
        let message = text(sigma_error_message(error)).unwrap();
        sigma_error_free(error);
        message
    }
}

#[test]
fn null_arguments_are_invalid_argument_and_outputs_stay_untouched() {
    let mock = common::mock(&[]);
    unsafe {
        let config = new_config(&mock.url, "demo-secret");
        let sentinel = ptr::dangling_mut::<sigma_token>();
        let mut token = sentinel;
        let mut error = ptr::null_mut();

        assert_eq!(sigma_token_get(ptr::null(), &mut token, &mut error), INVALID);
        assert_eq!(token, sentinel, "outputs are written only on success");
        assert!(take_error(error, INVALID).contains("config is NULL"));

        assert_eq!(sigma_token_get(config, ptr::null_mut(), ptr::null_mut()), INVALID, "error_out may be NULL");
        assert_eq!(sigma_token_refresh(config, ptr::null(), &mut token, ptr::null_mut()), INVALID);
        assert_eq!(sigma_token_refresh(ptr::null(), c("x").as_ptr(), &mut token, ptr::null_mut()), INVALID);
        assert_eq!(sigma_token_refresh(config, c("x").as_ptr(), ptr::null_mut(), ptr::null_mut()), INVALID);

        let mut out = ptr::null_mut();
        let id = c("id");
        assert_eq!(sigma_config_new(ptr::null(), id.as_ptr(), id.as_ptr(), &mut out, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_new(id.as_ptr(), ptr::null(), id.as_ptr(), &mut out, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_new(id.as_ptr(), id.as_ptr(), ptr::null(), &mut out, ptr::null_mut()), INVALID);
        assert_eq!(
            sigma_config_new(c("aws-us-east").as_ptr(), id.as_ptr(), id.as_ptr(), ptr::null_mut(), ptr::null_mut()),
            INVALID
        );
        assert_eq!(sigma_config_from_env(ptr::null_mut(), ptr::null_mut()), INVALID);
        assert!(out.is_null());

        assert_eq!(sigma_config_set_timeout_ms(ptr::null_mut(), 5, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_connect_timeout_ms(ptr::null_mut(), 5, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_max_attempts(ptr::null_mut(), 2, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_ca_file(ptr::null_mut(), id.as_ptr(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_ca_file(config, ptr::null(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_basic_auth(ptr::null_mut(), 1, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_refresh_margin_ms(ptr::null_mut(), 1, ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_user_agent_suffix(ptr::null_mut(), id.as_ptr(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_user_agent_suffix(config, ptr::null(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_language(ptr::null_mut(), id.as_ptr(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_token_cache(ptr::null_mut(), id.as_ptr(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_token_cache(config, ptr::null(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_token_store(ptr::null_mut(), id.as_ptr(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_token_store(config, ptr::null(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_config_set_language(config, ptr::null(), ptr::null_mut()), INVALID);

        let mut client = ptr::null_mut();
        assert_eq!(sigma_client_new(ptr::null(), &mut client, ptr::null_mut()), INVALID);
        assert_eq!(sigma_client_new(config, ptr::null_mut(), ptr::null_mut()), INVALID);
        assert_eq!(sigma_client_token(ptr::null(), &mut token, ptr::null_mut()), INVALID);
        sigma_client_invalidate(ptr::null(), id.as_ptr());

        assert!(sigma_token_access_token(ptr::null()).is_null());
        assert!(sigma_token_refresh_token(ptr::null()).is_null());
        assert!(sigma_token_type(ptr::null()).is_null());
        assert_eq!(sigma_token_expires_in(ptr::null()), 0);
        assert_eq!(sigma_token_expires_at(ptr::null()), 0);
        assert_eq!(sigma_error_code(ptr::null()), INVALID);
        assert!(sigma_error_message(ptr::null()).is_null());
        assert_eq!(sigma_error_http_status(ptr::null()), 0);
        assert!(sigma_error_request_id(ptr::null()).is_null());

        sigma_token_free(ptr::null_mut());
        sigma_client_free(ptr::null_mut());
        sigma_config_free(ptr::null_mut());
        sigma_error_free(ptr::null_mut());
        sigma_config_free(config);
        assert_eq!(mock.token_requests(), 0);
    }
}

#[test]
fn strings_that_are_not_utf8_are_invalid_argument() {
    let bad = [0x61u8, 0xff, 0xfe, 0];
    let good = c("x");
    unsafe {
        let mut out = ptr::null_mut();
        let mut error = ptr::null_mut();
        let status =
            sigma_config_new(c("aws-us-east").as_ptr(), bad.as_ptr().cast(), good.as_ptr(), &mut out, &mut error);
        assert_eq!(status, INVALID);
        assert!(take_error(error, INVALID).contains("client_id is not valid UTF-8"));
    }
}

#[test]
fn a_full_flow_get_refresh_client_invalidate() {
    let mock = common::mock(&["--expires-in", "1800"]);
    unsafe {
        let config = new_config(&mock.url, "demo-secret");
        assert_eq!(sigma_config_set_timeout_ms(config, 5000, ptr::null_mut()), OK);
        assert_eq!(sigma_config_set_max_attempts(config, 2, ptr::null_mut()), OK);

        let mut token = ptr::null_mut();
        assert_eq!(sigma_token_get(config, &mut token, ptr::null_mut()), OK);
        let access = text(sigma_token_access_token(token)).unwrap();
        let refresh = text(sigma_token_refresh_token(token)).unwrap();
        assert!(access.starts_with("mock_at_"));
        assert_eq!(text(sigma_token_type(token)).unwrap(), "bearer");
        assert_eq!(sigma_token_expires_in(token), 1800);
        assert!(sigma_token_expires_at(token) > 1_700_000_000);
        let agent = mock.stats()["last_token_request"]["user_agent"].as_str().unwrap().to_string();
        assert!(agent.ends_with("(c)"), "{agent}");

        let mut rotated = ptr::null_mut();
        assert_eq!(sigma_token_refresh(config, c(&refresh).as_ptr(), &mut rotated, ptr::null_mut()), OK);
        assert_ne!(text(sigma_token_refresh_token(rotated)).unwrap(), refresh);
        let mut error = ptr::null_mut();
        let mut reused = ptr::null_mut();
        assert_eq!(
            sigma_token_refresh(config, c(&refresh).as_ptr(), &mut reused, &mut error),
            sigma_status::SIGMA_STATUS_INVALID_GRANT
        );
        assert!(reused.is_null());
        assert_eq!(sigma_error_http_status(error), 401);
        assert!(text(sigma_error_request_id(error)).is_some());
        let message = take_error(error, sigma_status::SIGMA_STATUS_INVALID_GRANT);
        assert!(!message.contains(&refresh) && !message.contains("demo-secret"), "{message}");

        let mut client = ptr::null_mut();
        assert_eq!(sigma_client_new(config, &mut client, ptr::null_mut()), OK);
        sigma_config_free(config); // the client keeps its own copy
        let mut first = ptr::null_mut();
        let mut second = ptr::null_mut();
        assert_eq!(sigma_client_token(client, &mut first, ptr::null_mut()), OK);
        assert_eq!(sigma_client_token(client, &mut second, ptr::null_mut()), OK);
        let cached = text(sigma_token_access_token(first)).unwrap();
        assert_eq!(text(sigma_token_access_token(second)).unwrap(), cached);
        assert_eq!(sigma_client_token_is_current(client, first), 1);
        assert_eq!(sigma_client_token_is_current(client, ptr::null()), 0);
        assert_eq!(sigma_client_token_is_current(ptr::null(), first), 0);
        assert_eq!(sigma_client_token_is_current(client, token), 0, "a token from sigma_token_get is not the client's");
        sigma_client_invalidate(client, c(&cached).as_ptr());
        assert_eq!(sigma_client_token_is_current(client, first), 0);
        let mut third = ptr::null_mut();
        assert_eq!(sigma_client_token(client, &mut third, ptr::null_mut()), OK);
        assert_ne!(text(sigma_token_access_token(third)).unwrap(), cached);
        sigma_client_free(client);
        // Tokens outlive the client that made them.
        assert_eq!(text(sigma_token_access_token(first)).unwrap(), cached);
        for t in [token, rotated, first, second, third] {
            sigma_token_free(t);
        }
    }
}

#[test]
fn config_errors_carry_their_status_and_no_secret() {
    unsafe {
        let mut out = ptr::null_mut();
        let mut error = ptr::null_mut();
        let status = sigma_config_new(
            c("http://api.sigmacomputing.com").as_ptr(),
            c("id").as_ptr(),
            c("TOPSECRET").as_ptr(),
            &mut out,
            &mut error,
        );
        assert_eq!(status, sigma_status::SIGMA_STATUS_INSECURE_URL);
        assert!(!take_error(error, status).contains("TOPSECRET"));

        let config = new_config("aws-us-east", "s");
        let mut error = ptr::null_mut();
        assert_eq!(sigma_config_set_timeout_ms(config, 0, &mut error), INVALID);
        take_error(error, INVALID);
        assert_eq!(sigma_config_set_basic_auth(config, 7, ptr::null_mut()), OK);
        sigma_config_free(config);
    }
}

#[test]
fn a_token_store_url_is_checked_and_its_password_never_repeated() {
    unsafe {
        let config = new_config("aws-us-east", "s");
        for good in ["redis://127.0.0.1:6379", "redis://u:hunter2@cache.internal:6380/2", "rediss://:hunter2@h"] {
            assert_eq!(sigma_config_set_token_store(config, c(good).as_ptr(), ptr::null_mut()), OK, "{good}");
        }
        for bad in ["http://u:hunter2@h", "redis://u:hunter2@h/notadb", "redis://u:hunter2@h?x=1", "", "hunter2"] {
            let mut error = ptr::null_mut();
            assert_eq!(sigma_config_set_token_store(config, c(bad).as_ptr(), &mut error), INVALID, "{bad:?}");
            let message = take_error(error, INVALID);
            assert!(message.contains("token store URL"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        let mut error = ptr::null_mut();
        assert_eq!(sigma_config_set_token_store(config, ptr::null(), &mut error), INVALID);
        assert!(take_error(error, INVALID).contains("url is NULL"));
        let bad = [0x72u8, 0xff, 0];
        assert_eq!(sigma_config_set_token_store(config, bad.as_ptr().cast(), ptr::null_mut()), INVALID);
        sigma_config_free(config);
    }
}

#[test]
fn status_names_and_version_are_static_strings() {
    let names: Vec<String> = (0..=16).map(|s| unsafe { text(sigma_status_name(s)) }.unwrap()).collect();
    assert_eq!(names[0], "OK");
    assert_eq!(names[5], "INVALID_CLIENT");
    assert_eq!(names[11], "INTERNAL");
    assert_eq!(names[12], "FORBIDDEN");
    assert_eq!(names[15], "LOGIN_UNAVAILABLE");
    assert_eq!(names[16], "UNKNOWN");
    assert_eq!(unsafe { text(sigma_status_name(u32::MAX)) }.unwrap(), "UNKNOWN");
    assert_eq!(unsafe { text(sigma_version()) }.unwrap(), sigma_auth::VERSION);
}

/// The status codes are one table, `ErrorCode`: `sigma_status`, `sigma_status_name`
/// and the committed header (values, names and descriptions) all agree with it.
#[test]
fn the_status_codes_in_c_and_the_header_are_the_rust_table() {
    use sigma_auth::ErrorCode;

    for &code in ErrorCode::ALL {
        let status = sigma_status::from(code);
        assert_eq!(status as u32, code as u32, "{code}");
        assert_eq!(format!("{status:?}"), format!("SIGMA_STATUS_{}", code.name()));
        assert_eq!(unsafe { text(sigma_status_name(code as u32)) }.unwrap(), code.name());
    }

    // Every `SIGMA_STATUS_X = n,` of the header's enum, with its doc comment.
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/sigma_auth.h")).unwrap();
    let start = header.find("enum sigma_status\n").expect("the header declares enum sigma_status");
    let body = &header[start..start + header[start..].find("};").unwrap()];
    let (mut statuses, mut doc) = (Vec::new(), Vec::new());
    for line in body.lines().map(str::trim) {
        if line == "/**" {
            doc.clear();
        } else if let Some(text) = line.strip_prefix("* ") {
            doc.push(text);
        } else if let Some(entry) = line.strip_prefix("SIGMA_STATUS_") {
            let (name, value) = entry.trim_end_matches(',').split_once(" = ").unwrap();
            statuses.push((name.to_string(), value.parse::<u32>().unwrap(), doc.join(" ")));
            doc.clear();
        }
    }
    let expected: Vec<(String, u32, String)> = std::iter::once(("OK".to_string(), 0, String::new()))
        .chain(ErrorCode::ALL.iter().map(|c| (c.name().to_string(), *c as u32, c.description().to_string())))
        .collect();
    assert_eq!(statuses, expected, "include/sigma_auth.h disagrees with ErrorCode (src/error.rs)");

    // README's table of statuses, too.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<(String, u32, String)> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `SIGMA_STATUS_"))
        .map(|row| {
            let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
            (cells[0].trim_end_matches('`').to_string(), cells[1].parse().unwrap(), cells[2].to_string())
        })
        .collect();
    let expected: Vec<(String, u32, String)> = std::iter::once(("OK".to_string(), 0, "Success.".to_string()))
        .chain(ErrorCode::ALL.iter().map(|c| (c.name().to_string(), *c as u32, c.description().to_string())))
        .collect();
    assert_eq!(rows, expected, "README.md's status table disagrees with ErrorCode (src/error.rs)");
}

#[test]
fn the_sign_in_functions_check_their_arguments_and_a_missing_sign_in_is_login_required() {
    // No other test of this binary reads these: a store of its own, in files.
    let store = std::env::temp_dir().join(format!("sigma-ffi-store-{}", std::process::id()));
    std::env::set_var("XDG_CONFIG_HOME", &store);
    std::env::set_var("SIGMA_KEYRING", "file");
    let mut login: *mut sigma_login = ptr::null_mut();
    let mut error: *mut sigma_error = ptr::null_mut();
    unsafe {
        let status = sigma_login_begin(ptr::null(), ptr::null(), ptr::null(), 0, &mut login, &mut error);
        assert_eq!(status, sigma_status::SIGMA_STATUS_INVALID_ARGUMENT);
        assert!(login.is_null());
        sigma_error_free(error);
        let endpoint = c("http://127.0.0.1:9");
        let bad_profile = c("../etc");
        let status =
            sigma_login_begin(endpoint.as_ptr(), bad_profile.as_ptr(), ptr::null(), 0, &mut login, ptr::null_mut());
        assert_eq!(status, sigma_status::SIGMA_STATUS_INVALID_ARGUMENT, "a profile is a name, not a path");
        let status =
            sigma_login_begin(endpoint.as_ptr(), ptr::null(), ptr::null(), 0, ptr::null_mut(), ptr::null_mut());
        assert_eq!(status, sigma_status::SIGMA_STATUS_INVALID_ARGUMENT);
        assert!(sigma_login_authorize_url(ptr::null()).is_null());
        assert_eq!(sigma_login_wait(ptr::null_mut(), ptr::null_mut()), sigma_status::SIGMA_STATUS_INVALID_ARGUMENT);
        assert_eq!(
            sigma_login_complete(ptr::null_mut(), ptr::null(), ptr::null_mut()),
            sigma_status::SIGMA_STATUS_INVALID_ARGUMENT
        );
        sigma_login_free(ptr::null_mut());

        let mut config: *mut sigma_config = ptr::null_mut();
        let nobody = c("ffi-test-no-such-profile");
        let status = sigma_config_from_login(nobody.as_ptr(), &mut config, ptr::null_mut());
        assert_eq!(status, sigma_status::SIGMA_STATUS_LOGIN_REQUIRED);
        assert!(config.is_null());
        assert_eq!(
            sigma_logout(nobody.as_ptr(), ptr::null_mut()),
            sigma_status::SIGMA_STATUS_OK,
            "nothing to sign out"
        );
    }
    let _ = std::fs::remove_dir_all(store);
}
