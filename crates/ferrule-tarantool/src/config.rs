//! Connection settings.

use std::path::PathBuf;
use std::time::Duration;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix/:{}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TntConfig {
    pub endpoint: Endpoint,
    /// None or "guest": no authentication.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Bounds each attempt to connect (socket, greeting, auth, schema).
    pub connect_timeout: Option<Duration>,
    /// Reconnect after a lost connection (with backoff), instead of closing for good.
    pub reconnect: bool,
    /// First pause between reconnect attempts; doubled after each failure up to the maximum.
    pub reconnect_delay: Duration,
    pub reconnect_max_delay: Duration,
    /// How long a call made while reconnecting waits for the connection when it has no
    /// timeout of its own.
    pub reconnect_wait: Duration,
    /// Read `_vspace` / `_vindex` on connect so that spaces and indexes work by name.
    pub fetch_schema: bool,
}

impl Default for TntConfig {
    fn default() -> Self {
        TntConfig {
            endpoint: Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 3301,
            },
            user: None,
            password: None,
            connect_timeout: Some(Duration::from_secs(10)),
            reconnect: true,
            reconnect_delay: Duration::from_millis(50),
            reconnect_max_delay: Duration::from_secs(2),
            reconnect_wait: Duration::from_secs(10),
            fetch_schema: true,
        }
    }
}
