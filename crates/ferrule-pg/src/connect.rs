//! Opening a connection: socket, optional TLS, startup and authentication.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use ferrule_core::{Error, ErrorKind};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{
    ChannelBinding, ScramSha256, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

use crate::config::{PgConfig, PgHost, TargetSessionAttrs};
use crate::errors;
use crate::hosts;
use crate::tls;

pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}
pub type BoxStream = Box<dyn AsyncStream>;

/// A resolved address to connect to.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Largest backend message accepted; the server never sends more than 1 GiB in one.
pub const MAX_MESSAGE: usize = (1 << 30) + 1024;

/// Opens the socket; for TCP also returns its descriptor, for the reader's tuning
/// (`LowWater`), valid as long as the stream lives.
pub async fn open_socket(endpoint: &Endpoint) -> Result<(BoxStream, Option<RawFd>), Error> {
    let (stream, tcp_fd, _) = open_socket_fd(endpoint).await?;
    Ok((stream, tcp_fd))
}

/// `open_socket`, also returning the socket's descriptor whatever its kind.
async fn open_socket_fd(endpoint: &Endpoint) -> Result<(BoxStream, Option<RawFd>, RawFd), Error> {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let s = TcpStream::connect(addr)
                .await
                .map_err(|e| Error::connection_failure(format!("cannot connect to {addr}: {e}")))?;
            s.set_nodelay(true)?;
            let fd = s.as_raw_fd();
            Ok((Box::new(s), Some(fd), fd))
        }
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path).await.map_err(|e| {
                Error::connection_failure(format!("cannot connect to {}: {e}", path.display()))
            })?;
            let fd = s.as_raw_fd();
            Ok((Box::new(s), None, fd))
        }
    }
}

/// What an SSLRequest led to.
pub enum Negotiated {
    /// Encrypted, with the server's `tls-server-end-point` channel binding data when ferrule
    /// can compute it.
    Tls(BoxStream, Option<Vec<u8>>),
    /// The server declined TLS and the sslmode allows plaintext.
    Plain(BoxStream),
}

/// Asks for TLS with SSLRequest. Returns the stream and whether it is now encrypted; a server
/// that declines is an error when `required`, else the plain stream is returned.
pub async fn ssl_handshake(
    stream: BoxStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    required: bool,
) -> Result<(BoxStream, bool), Error> {
    Ok(match negotiate_tls(stream, config, name, required).await? {
        Negotiated::Tls(stream, _) => (stream, true),
        Negotiated::Plain(stream) => (stream, false),
    })
}

/// `ssl_handshake`, keeping what SCRAM needs to bind itself to the TLS channel.
pub async fn negotiate_tls(
    mut stream: BoxStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    required: bool,
) -> Result<Negotiated, Error> {
    let mut buf = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut buf);
    stream.write_all(&buf).await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    match answer[0] {
        b'S' => {
            let tls = TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| Error::connection_failure(format!("TLS handshake failed: {e}")))?;
            let end_point = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| tls::server_end_point(cert));
            Ok(Negotiated::Tls(Box::new(tls), end_point))
        }
        b'N' if required => Err(Error::connection_failure(
            "the server does not support TLS, and the sslmode requires it",
        )),
        b'N' => Ok(Negotiated::Plain(stream)),
        other => Err(Error::protocol(format!(
            "unexpected answer {other:#x} to SSLRequest"
        ))),
    }
}

pub async fn resolve(host: &PgHost) -> Result<Vec<Endpoint>, Error> {
    if host.host.starts_with('/') || host.host.starts_with('@') {
        let dir = host.host.trim_start_matches('@');
        return Ok(vec![Endpoint::Unix(PathBuf::from(format!(
            "{dir}/.s.PGSQL.{}",
            host.port
        )))]);
    }
    let addrs = tokio::net::lookup_host((host.host.as_str(), host.port))
        .await
        .map_err(|e| Error::connection_failure(format!("cannot resolve {:?}: {e}", host.host)))?;
    let mut out: Vec<Endpoint> = addrs.map(Endpoint::Tcp).collect();
    // Prefer IPv4 loopback/addresses first: servers commonly listen on 127.0.0.1 only.
    out.sort_by_key(|e| matches!(e, Endpoint::Tcp(SocketAddr::V6(_))));
    Ok(out)
}

/// An authenticated session, ready for queries.
pub struct Established {
    pub stream: BoxStream,
    pub read_buf: BytesMut,
    pub endpoint: Endpoint,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub process_id: i32,
    pub secret_key: i32,
    pub server_params: Vec<(String, String)>,
    pub tx_status: u8,
    /// The TCP socket under `stream` (None for a unix socket).
    pub tcp_fd: Option<RawFd>,
    /// A second descriptor of a plain (not TLS) socket, read and written directly.
    pub plain: Option<ferrule_core::socket::Sock>,
}

/// Reads one backend message, refusing absurd lengths before allocating for them.
pub async fn read_message(stream: &mut BoxStream, buf: &mut BytesMut) -> Result<Message, Error> {
    loop {
        if buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > MAX_MESSAGE {
                return Err(Error::protocol(format!(
                    "backend message of {len} bytes refused"
                )));
            }
        }
        match Message::parse(buf) {
            Ok(Some(msg)) => return Ok(msg),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::protocol(format!(
                    "malformed message from server: {e}"
                )))
            }
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(Error::connection_lost("the server closed the connection"));
        }
    }
}

fn password<'a>(cfg: &'a PgConfig, method: &str) -> Result<&'a str, Error> {
    cfg.password.as_deref().ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            format!("the server asks for {method} authentication but no password was given"),
        )
    })
}

async fn startup(
    cfg: &PgConfig,
    mut stream: BoxStream,
    endpoint: Endpoint,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    mut end_point: Option<Vec<u8>>,
) -> Result<Established, Error> {
    let mut out = BytesMut::with_capacity(256);
    let mut params: Vec<(&str, &str)> = vec![
        ("user", cfg.user.as_str()),
        ("database", cfg.database.as_str()),
        ("client_encoding", "UTF8"),
    ];
    for (k, v) in &cfg.server_settings {
        params.push((k.as_str(), v.as_str()));
    }
    frontend::startup_message(params.iter().copied(), &mut out)
        .map_err(|e| Error::interface(format!("invalid startup parameter: {e}")))?;
    stream.write_all(&out).await?;
    let mut rbuf = BytesMut::with_capacity(8192);
    let mut scram: Option<ScramSha256> = None;
    let mut server_params = Vec::new();
    let (mut pid, mut key) = (0, 0);
    loop {
        let msg = read_message(&mut stream, &mut rbuf).await?;
        out.clear();
        match msg {
            Message::AuthenticationOk => {}
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password(cfg, "password")?.as_bytes(), &mut out)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let pw = password(cfg, "md5")?;
                let hash = md5_hash(cfg.user.as_bytes(), pw.as_bytes(), body.salt());
                frontend::password_message(hash.as_bytes(), &mut out)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechs = body.mechanisms();
                let (mut has_scram, mut offers_plus) = (false, false);
                while let Some(m) = mechs.next().map_err(|e| Error::protocol(e.to_string()))? {
                    has_scram |= m == SCRAM_SHA_256;
                    offers_plus |= m == SCRAM_SHA_256_PLUS;
                }
                if !has_scram {
                    return Err(Error::new(
                        ErrorKind::Authentication,
                        "the server offers no SASL mechanism ferrule supports",
                    ));
                }
                // Over TLS, SCRAM binds itself to the channel when the server offers it (as
                // libpq's default does), so a man in the middle cannot relay the exchange.
                // "y" (able, but the server seems not to) is only honest when it offers no
                // -PLUS mechanism, else the server takes it for a downgrade attack; "n" when
                // ferrule cannot compute the binding for the server's certificate.
                let (mechanism, binding) = match (tls.is_some(), offers_plus, end_point.take()) {
                    (true, true, Some(data)) => (
                        SCRAM_SHA_256_PLUS,
                        ChannelBinding::tls_server_end_point(data),
                    ),
                    (true, false, _) => (SCRAM_SHA_256, ChannelBinding::unrequested()),
                    _ => (SCRAM_SHA_256, ChannelBinding::unsupported()),
                };
                let s = ScramSha256::new(password(cfg, "SCRAM-SHA-256")?.as_bytes(), binding);
                frontend::sasl_initial_response(mechanism, s.message(), &mut out)?;
                scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| Error::protocol("unexpected SASL step"))?;
                s.update(body.data()).map_err(|e| {
                    Error::new(
                        ErrorKind::Authentication,
                        format!("SCRAM exchange failed: {e}"),
                    )
                })?;
                frontend::sasl_response(s.message(), &mut out)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| Error::protocol("unexpected SASL step"))?;
                s.finish(body.data()).map_err(|e| {
                    Error::new(
                        ErrorKind::Authentication,
                        format!("SCRAM server proof invalid: {e}"),
                    )
                })?;
            }
            Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationGss
            | Message::AuthenticationSspi
            | Message::AuthenticationGssContinue(_) => {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    "the server asks for an authentication method ferrule does not support \
                     (GSSAPI/SSPI/Kerberos)",
                ));
            }
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(|e| Error::protocol(e.to_string()))?;
                let value = body.value().map_err(|e| Error::protocol(e.to_string()))?;
                server_params.push((name.to_owned(), value.to_owned()));
            }
            Message::BackendKeyData(body) => {
                pid = body.process_id();
                key = body.secret_key();
            }
            Message::NoticeResponse(_) => {}
            Message::ErrorResponse(body) => return Err(errors::from_fields(body.fields())),
            Message::ReadyForQuery(body) => {
                return Ok(Established {
                    stream,
                    read_buf: rbuf,
                    endpoint,
                    tls,
                    process_id: pid,
                    secret_key: key,
                    server_params,
                    tx_status: body.status(),
                    tcp_fd: None,
                    plain: None,
                });
            }
            _ => return Err(Error::protocol("unexpected message during startup")),
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
    }
}

/// Connects to the first host that accepts and matches `target_session_attrs`, trying every
/// resolved address of every host in turn (shuffled with `load_balance_hosts`).
/// `connect_timeout` bounds each attempt, as in libpq.
pub async fn establish(cfg: &PgConfig) -> Result<Established, Error> {
    let tls_config = tls::client_config(cfg)?;
    let mut hosts: Vec<&PgHost> = cfg.hosts.iter().collect();
    if cfg.load_balance_hosts {
        hosts::shuffle(&mut hosts);
    }
    let attrs = cfg.target_session_attrs;
    let mut attempts = Vec::new();
    match find_session(cfg, &hosts, &tls_config, attrs, &mut attempts).await {
        Ok(Some(est)) => return Ok(est),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    if attrs == TargetSessionAttrs::PreferStandby {
        // No standby anywhere: any server will do.
        let any = TargetSessionAttrs::Any;
        if let Some(est) = find_session(cfg, &hosts, &tls_config, any, &mut attempts).await? {
            return Ok(est);
        }
    }
    Err(match (attrs, attempts.pop()) {
        (TargetSessionAttrs::Any, Some((_, Some(e)))) => e,
        (TargetSessionAttrs::Any, _) => Error::connection_failure("no host to connect to"),
        (_, last) => {
            let mut described: Vec<String> = attempts.into_iter().map(|(d, _)| d).collect();
            described.extend(last.map(|(d, _)| d));
            hosts::no_match(attrs, &described)
        }
    })
}

/// One pass over the hosts: the first matching session, or None with every attempt recorded
/// as (description, error). A server's own error (bad password, no database) is final.
async fn find_session(
    cfg: &PgConfig,
    hosts: &[&PgHost],
    tls_config: &Option<Arc<ClientConfig>>,
    attrs: TargetSessionAttrs,
    attempts: &mut Vec<(String, Option<Error>)>,
) -> Result<Option<Established>, Error> {
    let bounded = |what: String| {
        move |_| {
            let secs = cfg.connect_timeout.unwrap_or_default().as_secs_f64();
            Error::new(
                ErrorKind::Timeout,
                format!("connecting to {what} timed out after {secs:.1}s"),
            )
        }
    };
    for host in hosts {
        let label = format!("{}:{}", host.host, host.port);
        let resolved = match cfg.connect_timeout {
            Some(t) => tokio::time::timeout(t, resolve(host))
                .await
                .map_err(bounded(label.clone()))
                .and_then(|r| r),
            None => resolve(host).await,
        };
        let mut endpoints = match resolved {
            Ok(e) => e,
            Err(e) => {
                attempts.push((format!("{label}: {}", e.message), Some(e)));
                continue;
            }
        };
        if cfg.load_balance_hosts {
            hosts::shuffle(&mut endpoints);
        }
        for endpoint in endpoints {
            let what = endpoint.to_string();
            let attempt = async {
                let mut est = try_endpoint(cfg, host, endpoint, tls_config.clone()).await?;
                if attrs == TargetSessionAttrs::Any {
                    return Ok((est, None));
                }
                let kind = hosts::session_kind(&mut est, attrs).await?;
                Ok::<_, Error>((est, Some(kind)))
            };
            let outcome = match cfg.connect_timeout {
                Some(t) => tokio::time::timeout(t, attempt)
                    .await
                    .map_err(bounded(what.clone()))
                    .and_then(|r| r),
                None => attempt.await,
            };
            match outcome {
                Ok((est, None)) => return Ok(Some(est)),
                Ok((est, Some(kind))) if attrs.accepts(kind) => return Ok(Some(est)),
                Ok((est, Some(kind))) => {
                    let role = match (kind.standby, kind.read_only) {
                        (true, _) => "a standby",
                        (false, true) => "read-only",
                        (false, false) => "a read-write primary",
                    };
                    attempts.push((format!("{what}: {role}"), None));
                    hosts::reject(est).await;
                }
                Err(e) if e.kind == ErrorKind::Database || e.kind == ErrorKind::Authentication => {
                    return Err(e)
                }
                Err(e) => attempts.push((format!("{what}: {}", e.message), Some(e))),
            }
        }
    }
    Ok(None)
}

async fn try_endpoint(
    cfg: &PgConfig,
    host: &PgHost,
    endpoint: Endpoint,
    tls_config: Option<Arc<ClientConfig>>,
) -> Result<Established, Error> {
    let (stream, tcp_fd, fd) = open_socket_fd(&endpoint).await?;
    let is_unix = matches!(endpoint, Endpoint::Unix(_));
    let plain = duplicate_socket(&stream, fd, is_unix);
    let mut est = match tls_config {
        Some(config) if !is_unix => {
            let name = tls::server_name(cfg, &host.host)?;
            let required = cfg.ssl_mode.requires_tls();
            match negotiate_tls(stream, config.clone(), name.clone(), required).await? {
                Negotiated::Tls(stream, end_point) => {
                    startup(cfg, stream, endpoint, Some((config, name)), end_point).await
                }
                Negotiated::Plain(stream) => startup(cfg, stream, endpoint, None, None).await,
            }
        }
        _ => startup(cfg, stream, endpoint, None, None).await,
    }?;
    est.tcp_fd = tcp_fd;
    if est.tls.is_none() {
        est.plain = plain;
    }
    Ok(est)
}

/// A second descriptor of the socket under `stream`, read and written without tokio's
/// stream once the session is up (None when it cannot be had: the tasks then use the
/// stream as it is).
fn duplicate_socket(
    stream: &BoxStream,
    fd: RawFd,
    unix: bool,
) -> Option<ferrule_core::socket::Sock> {
    let _ = stream;
    // SAFETY: `fd` is the descriptor of `stream`, open while the borrow lasts.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    ferrule_core::socket::Sock::duplicate_of(&borrowed, unix).ok()
}
