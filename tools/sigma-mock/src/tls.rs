//! A throw-away certificate authority and server certificate, made at start,
//! so clients test real HTTPS with a custom CA file.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto::ring, ServerConfig};
use tokio_rustls::TlsAcceptor;

pub fn acceptor(ca_pem_out: &Path) -> Result<TlsAcceptor, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA params", &e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "sigma-mock test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| fail("CA certificate", &e))?;

    // sigma.test and 192.0.2.1 (TEST-NET-1) let tests reach the mock through a proxy
    // under a name or address that is not loopback.
    let names = ["localhost", "127.0.0.1", "::1", "sigma.test", "192.0.2.1"].map(String::from).to_vec();
    let mut leaf_params = CertificateParams::new(names).map_err(|e| fail("server params", &e))?;
    leaf_params.distinguished_name.push(DnType::CommonName, "sigma-mock");
    let leaf_key = KeyPair::generate().map_err(|e| fail("server key", &e))?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(|e| fail("server certificate", &e))?;

    std::fs::write(ca_pem_out, ca.pem()).map_err(|e| fail(&format!("writing {}", ca_pem_out.display()), &e))?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(|e| fail("TLS config", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
