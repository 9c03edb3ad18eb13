//! Connection settings. DSN parsing lives in Python; this is the parsed, validated form.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
    /// Modes that must never continue without TLS.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// Which session a multi-host connect accepts (libpq's `target_session_attrs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    #[default]
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    /// A standby if any host is one, else any server.
    PreferStandby,
}

/// One host to try: a TCP host name or address, or a unix socket directory (starts with `/`).
#[derive(Debug, Clone)]
pub struct PgHost {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct PgConfig {
    pub hosts: Vec<PgHost>,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub ssl_mode: SslMode,
    pub ssl_root_cert: Option<String>,
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    /// Server name for SNI / certificate checks when it differs from the host (`sslservername`).
    pub ssl_server_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    /// Extra startup parameters (`application_name`, `options`, server settings).
    pub server_settings: Vec<(String, String)>,
    /// Named prepared statements kept per connection; 0 disables named statements.
    pub statement_cache_size: usize,
    /// How long to wait for the server to confirm a cancellation before closing the connection.
    pub cancel_timeout: Duration,
    pub target_session_attrs: TargetSessionAttrs,
    /// Try hosts (and each host's addresses) in random order (`load_balance_hosts=random`).
    pub load_balance_hosts: bool,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            hosts: vec![PgHost {
                host: "localhost".into(),
                port: 5432,
            }],
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            ssl_cert: None,
            ssl_key: None,
            ssl_server_name: None,
            connect_timeout: Some(Duration::from_secs(60)),
            server_settings: Vec::new(),
            statement_cache_size: 256,
            cancel_timeout: Duration::from_secs(2),
            target_session_attrs: TargetSessionAttrs::Any,
            load_balance_hosts: false,
        }
    }
}
