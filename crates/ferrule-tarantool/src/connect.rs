//! Opening one session: the socket, the greeting, authentication and IPROTO_ID.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ferrule_core::{Error, ErrorKind};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UnixStream};

use crate::auth::scramble;
use crate::config::{Endpoint, TntConfig};
use crate::consts::{code, feature, PROTOCOL_VERSION};
use crate::greeting::{Greeting, GREETING_SIZE};
use crate::mp::MpReader;
use crate::request::Request;
use crate::session::{EventSink, ServerInfo, Session};
use ferrule_core::socket::Sock;

async fn read_greeting<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Greeting, Error> {
    let mut g = [0u8; GREETING_SIZE];
    r.read_exact(&mut g).await.map_err(|e| {
        Error::connection_failure(format!(
            "the server closed the connection before its greeting: {e}"
        ))
    })?;
    Greeting::parse(&g)
}

/// Connects the socket and starts a session on it; returns it with the greeting.
pub(crate) async fn open_session(
    cfg: &TntConfig,
    seen_schema: Arc<AtomicU64>,
    events: Option<EventSink>,
) -> Result<(Arc<Session>, Greeting), Error> {
    let (sock, g) = match &cfg.endpoint {
        Endpoint::Tcp { host, port } => {
            let mut s = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| {
                    Error::connection_failure(format!("cannot connect to {}: {e}", cfg.endpoint))
                })?;
            s.set_nodelay(true)?;
            let g = read_greeting(&mut s).await?;
            (Sock::from_tcp(s)?, g)
        }
        Endpoint::Unix(path) => {
            let mut s = UnixStream::connect(path).await.map_err(|e| {
                Error::connection_failure(format!("cannot connect to {}: {e}", cfg.endpoint))
            })?;
            let g = read_greeting(&mut s).await?;
            (Sock::from_unix(s)?, g)
        }
    };
    Ok((Session::start(sock, seen_schema, events)?, g))
}

/// Sends one handshake request and waits for its answer.
async fn ask(session: &Session, sync: u64, r: &Request<'_>) -> Result<crate::Response, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut frame = Vec::with_capacity(64);
    r.encode(
        &crate::request::Header {
            sync,
            ..Default::default()
        },
        &mut frame,
    );
    session.send(sync, frame, Some(crate::session::Waiter::Once(tx)))?;
    rx.await.map_err(|_| session.reason())?
}

/// Authenticates (unless the user is the guest) and asks for the server's features.
pub(crate) async fn handshake(
    cfg: &TntConfig,
    session: &Session,
    greeting: Greeting,
    next_sync: &AtomicU64,
) -> Result<ServerInfo, Error> {
    let sync = || next_sync.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if let Some(user) = cfg
        .user
        .as_deref()
        .filter(|u| !u.is_empty() && *u != "guest")
    {
        let s = scramble(&greeting.salt, cfg.password.as_deref().unwrap_or(""));
        let resp = ask(session, sync(), &Request::Auth { user, scramble: &s }).await?;
        if resp.is_error() {
            let mut e = resp.to_error();
            e.kind = ErrorKind::Authentication;
            return Err(e);
        }
    }
    let mut info = ServerInfo {
        greeting: Some(greeting),
        ..ServerInfo::default()
    };
    let wanted = [
        feature::STREAMS,
        feature::TRANSACTIONS,
        feature::ERROR_EXTENSION,
        feature::WATCHERS,
    ];
    let resp = ask(
        session,
        sync(),
        &Request::Id {
            version: PROTOCOL_VERSION,
            features: &wanted,
        },
    )
    .await?;
    match resp.error_code() {
        None => {
            if let Some(v) = resp.field(crate::consts::key::VERSION)? {
                info.protocol_version = MpReader::new(&v).read_u64()?;
            }
            if let Some(f) = resp.field(crate::consts::key::FEATURES)? {
                let mut r = MpReader::new(&f);
                for _ in 0..r.read_array_len()? {
                    info.features.push(r.read_u64()?);
                }
            }
        }
        // Before 2.10 there is no IPROTO_ID: the server has none of these features.
        Some(code::ER_UNKNOWN_REQUEST_TYPE) => {}
        Some(_) => return Err(resp.to_error()),
    }
    Ok(info)
}
