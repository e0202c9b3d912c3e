//! What HTTPS trusts: the configured CA file, or the operating system's store
//! with the web roots bundled in this library.

use std::sync::Arc;

use ureq::tls::Certificate;

use crate::settings::Settings;
use crate::sys::PerProcess;

/// The CAs a config trusts: only the configured CA file's, or else the
/// operating system's trust store (which honours SSL_CERT_FILE and
/// SSL_CERT_DIR, so a TLS-inspecting corporate proxy's CA installed by IT is
/// trusted) together with the web roots bundled in this library (so a stale or
/// missing system store still works).
pub(crate) fn trust(settings: &Settings) -> Trust {
    match &settings.ca_certs {
        Some(certs) => Trust { roots: certs.clone(), system: 0, only_ca_file: true },
        None => SYSTEM_ROOTS.get(|_| load_system_roots()).clone(),
    }
}

#[derive(Clone)]
pub(crate) struct Trust {
    pub(crate) roots: Arc<Vec<Certificate<'static>>>,
    /// How many came from the operating system (0: none found).
    pub(crate) system: usize,
    pub(crate) only_ca_file: bool,
}

/// Loaded once per process (a few milliseconds of reading /etc/ssl).
static SYSTEM_ROOTS: PerProcess<Trust> = PerProcess::new();

fn load_system_roots() -> Trust {
    let found = rustls_native_certs::load_native_certs();
    let system = found.certs.len();
    let roots = found
        .certs
        .iter()
        .map(|c| c.as_ref())
        .chain(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|c| c.as_ref()))
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    Trust { roots: Arc::new(roots), system, only_ca_file: false }
}
