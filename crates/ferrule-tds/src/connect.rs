//! Opening a connection: the SQL Browser for named instances, the socket, TLS (strict, or
//! negotiated in PRELOGIN), LOGIN7 and the login response, following one routing redirect.

use std::net::SocketAddr;

use bytes::BytesMut;
use ferrule_core::{Error, ErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::browser;
use crate::config::{Encrypt, TdsConfig};
use crate::decoder::{Event, ResponseDecoder};
use crate::errors;
use crate::login7::Login7;
use crate::packet::{frame_message, kind, DEFAULT_PACKET_SIZE};
use crate::prelogin::{self, PreloginRequest, PreloginResponse};
use crate::tls::{self, PreloginFramed};
use crate::token::{EnvChange, Token};

pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}
pub type BoxStream = Box<dyn AsyncStream>;

/// What the server told about itself at login.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// From PRELOGIN: major, minor, build.
    pub version: (u8, u8, u16),
    /// From LOGINACK.
    pub tds_version: u32,
    pub program: String,
    pub program_version: [u8; 4],
    /// The session is encrypted (not just the login).
    pub encrypted: bool,
}

pub struct Established {
    pub stream: BoxStream,
    pub decoder: ResponseDecoder,
    pub packet_size: usize,
    pub database: String,
    pub info: ServerInfo,
}

enum Login {
    Done(Established),
    Routed { host: String, port: u16 },
}

pub async fn establish(cfg: &TdsConfig) -> Result<Established, Error> {
    let port = match (cfg.port, cfg.instance.as_deref()) {
        (Some(p), _) => p,
        (None, Some(instance)) if !instance.is_empty() => {
            browser::instance_port(&cfg.host, cfg.browser_port, instance).await?
        }
        _ => 1433,
    };
    let mut cfg = cfg.clone();
    let mut port = port;
    for _ in 0..2 {
        match connect_once(&cfg, port).await? {
            Login::Done(est) => return Ok(est),
            Login::Routed { host, port: p } => {
                cfg.host = host;
                port = p;
            }
        }
    }
    Err(Error::connection_failure(
        "the server redirected the connection more than once",
    ))
}

async fn open_tcp(host: &str, port: u16) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Error::connection_failure(format!("cannot resolve {host:?}: {e}")))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(format!("cannot connect to {addr}: {e}")),
        }
    }
    Err(Error::connection_failure(
        last.unwrap_or_else(|| format!("no address for {host:?}")),
    ))
}

async fn send_message<S: AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    kind: u8,
    payload: &[u8],
) -> Result<(), Error> {
    let mut out = BytesMut::with_capacity(payload.len() + 16);
    frame_message(kind, 0, payload, DEFAULT_PACKET_SIZE, &mut out);
    s.write_all(&out).await?;
    s.flush().await?;
    Ok(())
}

async fn read_prelogin<S: AsyncRead + Unpin + ?Sized>(
    s: &mut S,
) -> Result<PreloginResponse, Error> {
    let mut dec = ResponseDecoder::default();
    loop {
        if let Some(msg) = dec.take_message()? {
            return PreloginResponse::decode(&msg);
        }
        if dec.wire.len() > 64 * 1024 {
            return Err(Error::protocol("PRELOGIN response longer than 64 KiB"));
        }
        if s.read_buf(dec.read_buf()).await? == 0 {
            return Err(Error::connection_failure(
                "the server closed the connection during PRELOGIN",
            ));
        }
    }
}

fn login7(cfg: &TdsConfig, fed_auth_echo: bool) -> Result<BytesMut, Error> {
    let login = Login7 {
        packet_size: cfg.packet_size as u32,
        host_name: std::env::var("HOSTNAME").unwrap_or_default(),
        user: cfg.user.clone(),
        password: cfg.password.clone(),
        app_name: cfg.app_name.clone(),
        server_name: cfg.host.clone(),
        library: "ferrule".into(),
        language: cfg.language.clone(),
        database: cfg.database.clone(),
        read_only_intent: cfg.read_only_intent,
        access_token: cfg.access_token.clone(),
        fed_auth_echo,
    };
    let mut out = BytesMut::new();
    login.encode(&mut out)?;
    Ok(out)
}

async fn connect_once(cfg: &TdsConfig, port: u16) -> Result<Login, Error> {
    // Settings errors are reported before any socket is opened.
    if cfg.encrypt != Encrypt::Disabled {
        tls::client_config(cfg)?;
        tls::server_name(cfg)?;
    }
    let tcp = open_tcp(&cfg.host, port).await?;
    let mut info = ServerInfo::default();
    let fed_auth = cfg.access_token.is_some();
    let mut stream: BoxStream;
    let mut login_sent = false;
    if cfg.encrypt == Encrypt::Strict {
        let config = tls::client_config(cfg)?;
        let tls = TlsConnector::from(config)
            .connect(tls::server_name(cfg)?, tcp)
            .await
            .map_err(|e| Error::connection_failure(format!("TLS handshake failed: {e}")))?;
        stream = Box::new(tls);
        // The transport is already encrypted: PRELOGIN says no more TLS is wanted.
        let req = PreloginRequest {
            encrypt: prelogin::Encrypt::NotSupported,
            instance: String::new(),
            fed_auth,
        };
        let mut payload = BytesMut::new();
        req.encode(&mut payload);
        send_message(&mut stream, kind::PRELOGIN, &payload).await?;
        let resp = read_prelogin(&mut stream).await?;
        info.version = resp.version;
        info.encrypted = true;
    } else {
        let mut tcp = tcp;
        let wanted = match cfg.encrypt {
            Encrypt::Mandatory => prelogin::Encrypt::On,
            Encrypt::Optional => prelogin::Encrypt::Off,
            _ => prelogin::Encrypt::NotSupported,
        };
        let req = PreloginRequest {
            encrypt: wanted,
            instance: String::new(),
            fed_auth,
        };
        let mut payload = BytesMut::new();
        req.encode(&mut payload);
        send_message(&mut tcp, kind::PRELOGIN, &payload).await?;
        let resp = read_prelogin(&mut tcp).await?;
        info.version = resp.version;
        use prelogin::Encrypt as E;
        let (tls_on, login_only) = match (cfg.encrypt, resp.encrypt) {
            (Encrypt::Disabled, E::Required) => {
                return Err(Error::connection_failure(
                    "the server requires encryption, and encryption was disabled",
                ))
            }
            (Encrypt::Disabled, _) => (false, false),
            (Encrypt::Mandatory, E::NotSupported) => {
                return Err(Error::connection_failure(
                    "the server does not support encryption, and Encrypt=yes requires it \
                     (use encrypt=no for a server without TLS)",
                ))
            }
            (Encrypt::Mandatory, _) => (true, false),
            (_, E::NotSupported) => (false, false),
            (_, E::Off) => (true, true),
            (_, _) => (true, false),
        };
        if !tls_on {
            stream = Box::new(tcp);
        } else {
            // As ADO.NET does: with Encrypt=no, encryption the server alone wants does not
            // check the certificate.
            let config = if cfg.encrypt == Encrypt::Optional {
                tls::client_config(&TdsConfig {
                    trust_server_certificate: true,
                    ..cfg.clone()
                })?
            } else {
                tls::client_config(cfg)?
            };
            let mut tls = TlsConnector::from(config)
                .connect(tls::server_name(cfg)?, PreloginFramed::new(tcp))
                .await
                .map_err(|e| Error::connection_failure(format!("TLS handshake failed: {e}")))?;
            tls.get_mut().0.framing = false;
            if login_only {
                // Only LOGIN7 is encrypted; the session continues in the clear.
                send_message(
                    &mut tls,
                    kind::LOGIN7,
                    &login7(cfg, resp.fed_auth_required)?,
                )
                .await?;
                login_sent = true;
                let (framed, _) = tls.into_inner();
                stream = Box::new(framed.inner);
            } else {
                info.encrypted = true;
                stream = Box::new(tls);
            }
        }
        if !login_sent {
            send_message(
                &mut stream,
                kind::LOGIN7,
                &login7(cfg, resp.fed_auth_required)?,
            )
            .await?;
            login_sent = true;
        }
    }
    if !login_sent {
        send_message(&mut stream, kind::LOGIN7, &login7(cfg, fed_auth)?).await?;
    }
    read_login_response(cfg, stream, info).await
}

async fn read_login_response(
    cfg: &TdsConfig,
    mut stream: BoxStream,
    mut info: ServerInfo,
) -> Result<Login, Error> {
    let mut dec = ResponseDecoder::default();
    let mut packet_size = DEFAULT_PACKET_SIZE;
    let mut database = cfg.database.clone();
    let mut acked = false;
    let mut error: Option<Error> = None;
    let mut routed = None;
    loop {
        while let Some(ev) = dec.next_event()? {
            let Event::Token(t) = ev else {
                return Err(Error::protocol("a row in the login response"));
            };
            match t {
                Token::LoginAck(ack) => {
                    acked = true;
                    info.tds_version = ack.tds_version;
                    info.program = ack.program;
                    info.program_version = ack.version;
                }
                Token::EnvChange(EnvChange::PacketSize(n)) => packet_size = n,
                Token::EnvChange(EnvChange::Database(db)) => database = db,
                Token::EnvChange(EnvChange::Routing { host, port }) => routed = Some((host, port)),
                Token::Error(m) if error.is_none() => {
                    let mut e = errors::from_message(&m);
                    if e.kind == ErrorKind::Database {
                        e.kind = ErrorKind::ConnectionFailure;
                        e.message = format!("login failed: {}", e.message);
                    }
                    error = Some(e);
                }
                Token::Error(_) => {}
                Token::Done(d) if !d.has_more() => {
                    if let Some(e) = error {
                        return Err(e);
                    }
                    if let Some((host, port)) = routed {
                        return Ok(Login::Routed { host, port });
                    }
                    if !acked {
                        return Err(Error::protocol("the login ended without LOGINACK"));
                    }
                    return Ok(Login::Done(Established {
                        stream,
                        decoder: dec,
                        packet_size,
                        database,
                        info,
                    }));
                }
                _ => {}
            }
        }
        let n = stream
            .read_buf(dec.read_buf())
            .await
            .map_err(|e| Error::connection_failure(format!("connection lost during login: {e}")))?;
        if n == 0 {
            return Err(error.unwrap_or_else(|| {
                Error::connection_failure("the server closed the connection during login")
            }));
        }
    }
}
