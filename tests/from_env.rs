//! Config::from_env. One test in its own binary: it changes the environment.

mod common;

use sigma_auth::{get_token, Config, ErrorCode};

#[test]
fn from_env_reads_the_three_variables_and_names_a_missing_one() {
    let mock = common::mock(&[]);
    // SAFETY (edition 2021: safe fns): this binary runs no other thread that reads the environment.
    std::env::remove_var("SIGMA_BASE_URL");
    std::env::remove_var("SIGMA_CLIENT_ID");
    std::env::remove_var("SIGMA_CLIENT_SECRET");
    let err = Config::from_env().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("SIGMA_BASE_URL is not set"), "{err}");

    std::env::set_var("SIGMA_BASE_URL", &mock.url);
    std::env::set_var("SIGMA_CLIENT_ID", "demo-client");
    let err = Config::from_env().unwrap_err();
    assert!(err.message().contains("SIGMA_CLIENT_SECRET is not set"), "{err}");

    std::env::set_var("SIGMA_CLIENT_SECRET", "   ");
    assert!(Config::from_env().unwrap_err().message().contains("SIGMA_CLIENT_SECRET is set but empty"));

    std::env::set_var("SIGMA_CLIENT_SECRET", "demo-secret\n");
    get_token(&Config::from_env().unwrap()).expect("a trailing newline from a secrets file is trimmed");

    std::env::set_var("SIGMA_BASE_URL", "azure-eu");
    let config = Config::from_env().unwrap();
    assert_eq!(config.endpoint().token_url(), "https://api.eu.azure.sigmacomputing.com/v2/auth/token");
}
