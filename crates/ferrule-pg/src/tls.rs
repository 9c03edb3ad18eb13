//! TLS with rustls, following libpq's sslmode semantics:
//! `require` encrypts without checking the certificate (unless a root certificate is given,
//! then it checks like `verify-ca`), `verify-ca` checks the chain, `verify-full` checks the
//! chain and the host name. `prefer`/`allow` encrypt when the server agrees, unchecked.

use std::sync::Arc;

use ferrule_core::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::{PgConfig, SslMode};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(msg: String) -> Error {
    Error::connection_failure(msg)
}

/// Loads the roots for verification: a PEM file, or `system` for the bundled web PKI roots.
fn load_roots(path: &str) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    if path == "system" {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    }
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(format!("cannot read sslrootcert {path:?}: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| tls_error(format!("bad certificate in {path:?}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| tls_error(format!("unusable certificate in {path:?}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(tls_error(format!(
            "sslrootcert {path:?} holds no certificate"
        )));
    }
    Ok(roots)
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
        let roots = Arc::new(load_roots(&path)?);
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| tls_error(format!("cannot build the certificate verifier: {e}")))?;
        Arc::new(PgVerifier {
            inner: Some(inner),
            check_name: mode == SslMode::VerifyFull,
        })
    } else {
        Arc::new(PgVerifier {
            inner: None,
            check_name: false,
        })
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

/// Certificate checks per sslmode; signatures are always verified.
#[derive(Debug)]
struct PgVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for PgVerifier {
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
