//! A minimal HTTP/1.1 client for libSQL: POST of a JSON body (Hrana) and GET (the sync
//! protocol of embedded replicas) over one kept-alive connection (plain TCP or rustls),
//! responses with Content-Length or chunked bodies. libSQL needs nothing more, and a full
//! HTTP stack would cost more to build than this whole backend.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, Result};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Where requests go: `http(s)://host[:port]/prefix`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The path prefix before `/v3/pipeline`, without a trailing slash.
    pub prefix: String,
}

impl Endpoint {
    /// Parses `http://`, `https://` or `libsql://` (which means https) URLs.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::interface(format!("not a URL: {url:?}")))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "https" | "libsql" | "wss" => true,
            "http" | "ws" => false,
            other => {
                return Err(Error::interface(format!(
                    "unsupported libSQL URL scheme {other:?}: use libsql://, https:// or http://"
                )))
            }
        };
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| Error::interface(format!("bad IPv6 host in {url:?}")))?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p, url)?,
                None => default_port,
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), parse_port(p, url)?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(Error::interface(format!("no host in {url:?}")));
        }
        Ok(Endpoint {
            tls,
            host,
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }
}

fn parse_port(p: &str, url: &str) -> Result<u16> {
    p.parse()
        .map_err(|_| Error::interface(format!("bad port {p:?} in {url:?}")))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One kept-alive HTTP connection, reopened after any failure.
pub struct HttpClient {
    endpoint: Endpoint,
    auth: Option<String>,
    conn: Option<BufReader<Box<dyn Stream>>>,
    connect_timeout: Duration,
    tls: Option<TlsConnector>,
}

/// A response: status code and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Bodies larger than this are refused (a broken or hostile server).
const MAX_BODY: usize = 1 << 30;

impl HttpClient {
    pub fn new(endpoint: Endpoint, auth_token: Option<String>, connect_timeout: Duration) -> Self {
        let tls = endpoint.tls.then(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            config.ok().map(|c| TlsConnector::from(Arc::new(c)))
        });
        HttpClient {
            endpoint,
            auth: auth_token.map(|t| format!("Bearer {t}")),
            conn: None,
            connect_timeout,
            tls: tls.flatten(),
        }
    }

    /// Sends later requests to `endpoint` (a server's `base_url`): same credentials.
    pub fn set_endpoint(&mut self, endpoint: Endpoint) {
        let moved = endpoint.host != self.endpoint.host
            || endpoint.port != self.endpoint.port
            || endpoint.tls != self.endpoint.tls;
        if moved {
            self.conn = None;
        }
        self.endpoint = endpoint;
    }

    async fn connect(&mut self) -> Result<BufReader<Box<dyn Stream>>> {
        let ep = &self.endpoint;
        let addr = (ep.host.as_str(), ep.port);
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                Error::connection_failure(format!(
                    "timed out connecting to {}:{}",
                    ep.host, ep.port
                ))
            })?
            .map_err(|e| {
                Error::connection_failure(format!("cannot connect to {}:{}: {e}", ep.host, ep.port))
            })?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = if ep.tls {
            let connector = self.tls.clone().ok_or_else(|| {
                Error::connection_failure("TLS is not available (no crypto provider)")
            })?;
            let name = ServerName::try_from(ep.host.clone())
                .map_err(|e| Error::connection_failure(format!("bad TLS server name: {e}")))?;
            let tls = connector.connect(name, tcp).await.map_err(|e| {
                Error::connection_failure(format!("TLS handshake with {} failed: {e}", ep.host))
            })?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        Ok(BufReader::new(stream))
    }

    /// POSTs `body` to `path` (after the endpoint's prefix). A request is never sent twice:
    /// a kept-alive connection the server has closed is noticed before it is reused.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<Response> {
        self.request("POST", path, Some(body)).await
    }

    /// GETs `path` (after the endpoint's prefix).
    pub async fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, None).await
    }

    async fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        if let Some(conn) = self.conn.as_mut() {
            if is_stale(conn).await {
                self.conn = None;
            }
        }
        self.try_request(method, path, body)
            .await
            .map_err(PostError::into_error)
    }

    async fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, PostError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await.map_err(PostError::Failed)?,
        };
        let ep = &self.endpoint;
        let mut head = format!(
            "{method} {}{} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n",
            ep.prefix, path, ep.host,
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        if let Some(auth) = &self.auth {
            head.push_str("Authorization: ");
            head.push_str(auth);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let stream = conn.get_mut();
        let sent = async {
            stream.write_all(head.as_bytes()).await?;
            if let Some(body) = body {
                stream.write_all(body).await?;
            }
            stream.flush().await
        }
        .await;
        if let Err(e) = sent {
            return Err(PostError::Unsent(lost(e)));
        }
        let (response, keep) = read_response(&mut conn).await?;
        if keep {
            self.conn = Some(conn);
        }
        Ok(response)
    }

    /// Drops the kept-alive connection (after a cancelled request left it mid-exchange).
    pub fn reset(&mut self) {
        self.conn = None;
    }
}

/// True when the server closed (or wrote to) an idle connection: reading it would not wait.
async fn is_stale<R: AsyncRead + Unpin>(conn: &mut BufReader<R>) -> bool {
    tokio::time::timeout(Duration::ZERO, conn.fill_buf())
        .await
        .is_ok()
}

/// Why a request failed: before any of the response arrived, or during it.
enum PostError {
    Unsent(Error),
    Failed(Error),
}

impl PostError {
    fn into_error(self) -> Error {
        match self {
            PostError::Unsent(e) | PostError::Failed(e) => e,
        }
    }
}

fn lost(e: std::io::Error) -> Error {
    Error::connection_lost(format!("the libSQL server connection was lost: {e}"))
}

fn protocol(msg: &str) -> PostError {
    PostError::Failed(Error::protocol(format!("bad HTTP response: {msg}")))
}

async fn read_response<R: AsyncRead + Unpin>(
    conn: &mut BufReader<R>,
) -> Result<(Response, bool), PostError> {
    let mut line = String::new();
    let n = conn
        .read_line(&mut line)
        .await
        .map_err(|e| PostError::Unsent(lost(e)))?;
    if n == 0 {
        return Err(PostError::Unsent(Error::connection_lost(
            "the libSQL server closed the connection",
        )));
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol("no status line"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = version == "HTTP/1.1";
    loop {
        line.clear();
        let n = conn
            .read_line(&mut line)
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
        if n == 0 {
            return Err(protocol("headers cut short"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(protocol("malformed header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(value.parse().map_err(|_| protocol("bad Content-Length"))?)
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep = false;
                } else if v.contains("keep-alive") {
                    keep = true;
                }
            }
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(conn).await?
    } else if let Some(len) = length {
        if len > MAX_BODY {
            return Err(protocol("body too large"));
        }
        let mut body = vec![0; len];
        conn.read_exact(&mut body)
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
        body
    } else {
        keep = false;
        let mut body = Vec::new();
        conn.take(MAX_BODY as u64)
            .read_to_end(&mut body)
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
        body
    };
    Ok((Response { status, body }, keep))
}

async fn read_chunked<R: AsyncRead + Unpin>(conn: &mut BufReader<R>) -> Result<Vec<u8>, PostError> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line)
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16).map_err(|_| protocol("bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(protocol("body too large"));
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                let n = conn
                    .read_line(&mut line)
                    .await
                    .map_err(|e| PostError::Failed(lost(e)))?;
                if n == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
        let mut crlf = [0u8; 2];
        conn.read_exact(&mut crlf)
            .await
            .map_err(|e| PostError::Failed(lost(e)))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("libsql://db-x.turso.io?authToken=t").unwrap();
        assert!(e.tls && e.host == "db-x.turso.io" && e.port == 443 && e.prefix.is_empty());
        let e = Endpoint::parse("http://127.0.0.1:8080/base/").unwrap();
        assert!(!e.tls && e.port == 8080 && e.prefix == "/base");
        let e = Endpoint::parse("https://[::1]:9/").unwrap();
        assert!(e.host == "::1" && e.port == 9);
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://:80").is_err());
    }

    #[tokio::test]
    async fn chunked_and_length_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let (resp, keep) = read_response(&mut r).await.ok().unwrap();
        assert_eq!(resp.body, b"abcde");
        assert!(keep);
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno";
        let mut r = BufReader::new(&raw[..]);
        let (resp, keep) = read_response(&mut r).await.ok().unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (404, &b"no"[..], false)
        );
        let mut r = BufReader::new(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"[..]);
        assert!(read_response(&mut r).await.is_err());
    }
}
