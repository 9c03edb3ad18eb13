//! TLS with rustls. TDS 7.4 runs the handshake inside PRELOGIN packets (`PreloginFramed`
//! frames and unframes it, then steps aside); TDS 8.0 strict runs it first, with ALPN
//! `tds/8.0`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use ferrule_core::tls::{load_roots, provider, CertVerifier};
use ferrule_core::Error;
use rustls::client::danger::ServerCertVerifier;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::{Encrypt, TdsConfig};
use crate::packet::{frame_message, kind, PacketHeader, HEADER_LEN};

fn tls_error(msg: String) -> Error {
    Error::connection_failure(msg)
}

/// The client configuration for `cfg`. TDS 7.4 is held to TLS 1.2, as SQL Server speaks it
/// inside PRELOGIN; strict mode allows TLS 1.3 and announces `tds/8.0`.
pub fn client_config(cfg: &TdsConfig) -> Result<Arc<ClientConfig>, Error> {
    let strict = cfg.encrypt == Encrypt::Strict;
    if strict && cfg.trust_server_certificate {
        return Err(Error::interface(
            "encrypt=strict always checks the server certificate: drop \
             TrustServerCertificate, or give the CA with ca_file",
        ));
    }
    let verifier: Arc<dyn ServerCertVerifier> = if cfg.trust_server_certificate {
        CertVerifier::trust_any()
    } else {
        CertVerifier::checking(load_roots(cfg.ca_file.as_deref(), "the CA file")?, true)?
    };
    let versions: &[&rustls::SupportedProtocolVersion] = if strict {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS12]
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    if strict {
        config.alpn_protocols = vec![b"tds/8.0".to_vec()];
    }
    Ok(Arc::new(config))
}

pub fn server_name(cfg: &TdsConfig) -> Result<ServerName<'static>, Error> {
    let name = cfg.host_name_in_certificate.as_deref().unwrap_or(&cfg.host);
    ServerName::try_from(name.to_owned())
        .map_err(|_| tls_error(format!("{name:?} is not a valid TLS server name")))
}

/// Carries TLS handshake records inside PRELOGIN packets while `framing` is on; after the
/// handshake it passes bytes through untouched.
pub struct PreloginFramed<S> {
    pub inner: S,
    pub framing: bool,
    /// Header bytes of the packet being read, and payload bytes still to read of it.
    header: [u8; HEADER_LEN],
    header_got: usize,
    payload_left: usize,
    /// Handshake bytes written and not yet framed, then framed and not yet sent.
    pending: Vec<u8>,
    framed: BytesMut,
}

impl<S> PreloginFramed<S> {
    pub fn new(inner: S) -> Self {
        PreloginFramed {
            inner,
            framing: true,
            header: [0; HEADER_LEN],
            header_got: 0,
            payload_left: 0,
            pending: Vec::new(),
            framed: BytesMut::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PreloginFramed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.framing {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        while this.payload_left == 0 {
            let mut hb = ReadBuf::new(&mut this.header[this.header_got..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut hb))?;
            let n = hb.filled().len();
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.header_got += n;
            if this.header_got == HEADER_LEN {
                this.header_got = 0;
                let h = PacketHeader::parse(&this.header)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.message))?;
                if h.kind != kind::PRELOGIN && h.kind != kind::TABULAR_RESULT {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("packet type {:#04x} during the TLS handshake", h.kind),
                    )));
                }
                this.payload_left = h.length as usize - HEADER_LEN;
            }
        }
        let want = this.payload_left.min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(want));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
        let n = limited.filled().len();
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
        }
        buf.advance(n);
        this.payload_left -= n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PreloginFramed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.framing {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        this.pending.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let pending = std::mem::take(&mut this.pending);
            frame_message(kind::PRELOGIN, 0, &pending, 4096, &mut this.framed);
        }
        while !this.framed.is_empty() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.framed))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.framed.advance(n);
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
