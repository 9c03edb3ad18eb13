//! TLS with rustls, following libpq's sslmode semantics:
//! `require` encrypts without checking the certificate (unless a root certificate is given,
//! then it checks like `verify-ca`), `verify-ca` checks the chain, `verify-full` checks the
//! chain and the host name. `prefer`/`allow` encrypt when the server agrees, unchecked.

use std::sync::Arc;

use ferrule_core::tls::{load_roots, provider, CertVerifier};
use ferrule_core::Error;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::hash::HashAlgorithm;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::{PgConfig, SslMode};

fn tls_error(msg: String) -> Error {
    Error::connection_failure(msg)
}

fn default_root_path() -> Option<String> {
    let home = std::env::var("HOME").ok()?;
    let path = format!("{home}/.postgresql/root.crt");
    std::path::Path::new(&path).exists().then_some(path)
}

/// Builds the client configuration for `cfg.ssl_mode`; `None` when TLS is disabled.
pub fn client_config(cfg: &PgConfig) -> Result<Option<Arc<ClientConfig>>, Error> {
    let mode = cfg.ssl_mode;
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let verify_chain = match mode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Require => cfg.ssl_root_cert.is_some(),
        _ => false,
    };
    let verifier: Arc<dyn ServerCertVerifier> = if verify_chain {
        let path = cfg
            .ssl_root_cert
            .clone()
            .or_else(default_root_path)
            .ok_or_else(|| {
                tls_error(format!(
                    "sslmode={} needs a root certificate: set sslrootcert (a PEM file, or \
                 'system' for the public web roots) or create ~/.postgresql/root.crt",
                    mode_name(mode)
                ))
            })?;
        CertVerifier::checking(
            load_roots(Some(&path), "sslrootcert")?,
            mode == SslMode::VerifyFull,
        )?
    } else {
        CertVerifier::trust_any()
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&cfg.ssl_cert, &cfg.ssl_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls_error(format!("cannot read sslcert {cert:?}: {e}")))?
                .collect::<Result<_, _>>()
                .map_err(|e| tls_error(format!("bad certificate in sslcert {cert:?}: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls_error(format!("cannot read sslkey {key:?}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_error(format!("unusable client certificate: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(tls_error(
                "sslcert and sslkey must be given together".into(),
            ))
        }
    };
    Ok(Some(Arc::new(config)))
}

pub fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Allow => "allow",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// The server name used for SNI and `verify-full`.
pub fn server_name(cfg: &PgConfig, host: &str) -> Result<ServerName<'static>, Error> {
    let name = cfg.ssl_server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_owned())
        .map_err(|_| tls_error(format!("{name:?} is not a valid TLS server name")))
}

// Signature algorithm OIDs (DER content bytes) whose hash names the channel binding's hash.
const OID_RSA_MD5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04];
const OID_RSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
const OID_RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const OID_ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];

/// The `tls-server-end-point` channel binding data (RFC 5929) for SCRAM-SHA-256-PLUS: the
/// server certificate hashed with the hash of its signature algorithm (SHA-256 for MD5 and
/// SHA-1). None when that hash is one ferrule lacks (SHA-512, Ed25519, RSASSA-PSS); SCRAM then
/// goes without channel binding.
pub fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    let wanted = match signature_algorithm(cert)? {
        OID_RSA_MD5 | OID_RSA_SHA1 | OID_RSA_SHA256 | OID_ECDSA_SHA1 | OID_ECDSA_SHA256 => {
            HashAlgorithm::SHA256
        }
        OID_RSA_SHA384 | OID_ECDSA_SHA384 => HashAlgorithm::SHA384,
        _ => return None,
    };
    // The TLS 1.3 suites carry exactly the SHA-256 and SHA-384 implementations needed.
    let hash = provider()
        .cipher_suites
        .iter()
        .filter_map(|suite| suite.tls13())
        .map(|suite| suite.common.hash_provider)
        .find(|hash| hash.algorithm() == wanted)?;
    Some(hash.hash(cert).as_ref().to_vec())
}

/// The algorithm OID of `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, .. }`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (body, _) = der_element(cert, 0x30)?;
    let (_tbs, rest) = der_element(body, 0x30)?;
    let (algorithm, _) = der_element(rest, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    Some(oid)
}

/// The content of the DER element starting `b` when its tag is `tag`, and the bytes after it.
fn der_element(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if found != tag {
        return None;
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &byte| acc << 8 | usize::from(byte));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate skeleton: SEQUENCE { SEQUENCE {..tbs..}, SEQUENCE { OID }, BIT STRING }.
    fn skeleton(oid: &[u8], tbs_len: usize) -> Vec<u8> {
        let mut tbs = vec![0x30, 0x82];
        tbs.extend_from_slice(&(tbs_len as u16).to_be_bytes());
        tbs.resize(tbs.len() + tbs_len, 0xab);
        let mut alg = vec![0x30, (oid.len() + 2) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        let body: Vec<u8> = [tbs, alg, vec![0x03, 0x02, 0x00, 0xff]].concat();
        let mut cert = vec![0x30, 0x82];
        cert.extend_from_slice(&(body.len() as u16).to_be_bytes());
        cert.extend_from_slice(&body);
        cert
    }

    #[test]
    fn signature_algorithm_is_found() {
        let cert = skeleton(OID_ECDSA_SHA256, 300);
        assert_eq!(signature_algorithm(&cert), Some(OID_ECDSA_SHA256));
        assert!(signature_algorithm(&cert[..cert.len() - 10]).is_none());
        assert!(signature_algorithm(&[0x30]).is_none());
    }

    #[test]
    fn end_point_hash_follows_the_algorithm() {
        assert_eq!(
            server_end_point(&skeleton(OID_ECDSA_SHA256, 200)).map(|h| h.len()),
            Some(32)
        );
        assert_eq!(
            server_end_point(&skeleton(OID_RSA_SHA1, 200)).map(|h| h.len()),
            Some(32)
        );
        assert_eq!(
            server_end_point(&skeleton(OID_RSA_SHA384, 200)).map(|h| h.len()),
            Some(48)
        );
        // Ed25519 (1.3.101.112) names no hash.
        assert_eq!(server_end_point(&skeleton(&[0x2b, 0x65, 0x70], 200)), None);
    }
}
