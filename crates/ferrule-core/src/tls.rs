//! TLS pieces every backend shares: the crypto provider, loading trust roots, and the
//! certificate verifier with its three strengths (trust anything but still check signatures,
//! check the chain, check the chain and the host name).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::Error;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Trust roots from a PEM file, or the bundled web PKI roots for `None` / `"system"`.
/// `what` names the setting in errors (`sslrootcert`, `the CA file`).
pub fn load_roots(path: Option<&str>, what: &str) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let path = match path {
        None | Some("system") => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(roots);
        }
        Some(p) => p,
    };
    let fail = |m: String| Error::connection_failure(m);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(format!("cannot read {what} {path:?}: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(format!("bad certificate in {path:?}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("unusable certificate in {path:?}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(fail(format!("{what} {path:?} holds no certificate")));
    }
    Ok(roots)
}

/// Checks the server certificate as configured; handshake signatures are always verified.
#[derive(Debug)]
pub struct CertVerifier {
    /// None: accept any certificate (encryption without authentication).
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl CertVerifier {
    /// Encrypts without checking who the server is.
    pub fn trust_any() -> Arc<CertVerifier> {
        Arc::new(CertVerifier {
            inner: None,
            check_name: false,
        })
    }

    /// Checks the chain against `roots`, and the host name when `check_name`.
    pub fn checking(roots: RootCertStore, check_name: bool) -> Result<Arc<CertVerifier>, Error> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| {
                Error::connection_failure(format!("cannot build the certificate verifier: {e}"))
            })?;
        Ok(Arc::new(CertVerifier {
            inner: Some(inner),
            check_name,
        }))
    }
}

impl ServerCertVerifier for CertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(ok) => Ok(ok),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
