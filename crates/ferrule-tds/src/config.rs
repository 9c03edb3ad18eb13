//! Connection settings. DSN parsing (URL and ADO.NET forms) lives in Python; this is the
//! parsed, validated form.

use std::time::Duration;

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// TDS 8.0: TLS before anything else, ALPN `tds/8.0`, certificate always checked.
    Strict,
    /// TLS negotiated in PRELOGIN and required for the whole session (`Encrypt=yes`).
    Mandatory,
    /// `Encrypt=no`: the server decides; a server that offers encryption still encrypts the
    /// login (and the session when it requires it).
    Optional,
    /// No TLS at all, not even for the login: for test servers, only when asked.
    Disabled,
}

impl Encrypt {
    pub fn parse(s: &str) -> Option<Encrypt> {
        Some(match s.to_ascii_lowercase().as_str() {
            "strict" => Encrypt::Strict,
            "yes" | "true" | "mandatory" | "on" | "1" => Encrypt::Mandatory,
            "no" | "false" | "optional" | "off" | "0" => Encrypt::Optional,
            "disable" | "disabled" | "danger_plaintext" => Encrypt::Disabled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TdsConfig {
    pub host: String,
    /// None: 1433, or the named instance's port from the SQL Browser.
    pub port: Option<u16>,
    pub instance: Option<String>,
    pub user: String,
    pub password: String,
    pub database: String,
    pub app_name: String,
    /// An Azure AD access token, used instead of user and password.
    pub access_token: Option<String>,
    pub encrypt: Encrypt,
    /// Accept any certificate (not allowed with `Encrypt::Strict`).
    pub trust_server_certificate: bool,
    /// PEM file of the roots that sign the server's certificate; None: the public web roots.
    pub ca_file: Option<String>,
    /// The name to check the certificate against when it differs from `host`.
    pub host_name_in_certificate: Option<String>,
    pub connect_timeout: Option<Duration>,
    /// How long to wait for the server to acknowledge an ATTENTION before closing.
    pub cancel_timeout: Duration,
    pub packet_size: usize,
    /// `ApplicationIntent=ReadOnly`.
    pub read_only_intent: bool,
    pub language: String,
    /// UDP port of the SQL Browser, for named instances.
    pub browser_port: u16,
}

impl Default for TdsConfig {
    fn default() -> Self {
        TdsConfig {
            host: "localhost".into(),
            port: None,
            instance: None,
            user: String::new(),
            password: String::new(),
            database: String::new(),
            app_name: "ferrule".into(),
            access_token: None,
            encrypt: Encrypt::Mandatory,
            trust_server_certificate: false,
            ca_file: None,
            host_name_in_certificate: None,
            connect_timeout: Some(Duration::from_secs(15)),
            cancel_timeout: Duration::from_secs(2),
            packet_size: 4096,
            read_only_intent: false,
            language: String::new(),
            browser_port: 1434,
        }
    }
}
