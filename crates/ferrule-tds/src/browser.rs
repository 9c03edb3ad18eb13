//! The SQL Server Browser (MC-SQLR): the TCP port of a named instance, asked over UDP.

use std::time::Duration;

use ferrule_core::Error;
use tokio::net::UdpSocket;

const CLNT_UCAST_INST: u8 = 0x04;
const SVR_RESP: u8 = 0x05;

/// The request for one instance's details.
pub fn instance_request(instance: &str) -> Vec<u8> {
    let mut b = vec![CLNT_UCAST_INST];
    b.extend_from_slice(instance.as_bytes());
    b.push(0);
    b
}

/// The `tcp` port in a browser answer (`ServerName;H;InstanceName;I;...;tcp;1433;;`).
pub fn parse_response(b: &[u8], instance: &str) -> Result<u16, Error> {
    if b.len() < 3 || b[0] != SVR_RESP {
        return Err(Error::connection_failure("malformed SQL Browser answer"));
    }
    let len = u16::from_le_bytes([b[1], b[2]]) as usize;
    let body = b.get(3..3 + len).unwrap_or(&b[3..]);
    let text = String::from_utf8_lossy(body);
    for record in text.split(";;") {
        let fields: Vec<&str> = record.split(';').collect();
        let mut name = None;
        let mut tcp = None;
        for pair in fields.chunks(2) {
            if let [k, v] = pair {
                if k.eq_ignore_ascii_case("InstanceName") {
                    name = Some(*v);
                } else if k.eq_ignore_ascii_case("tcp") {
                    tcp = Some(*v);
                }
            }
        }
        if name.is_some_and(|n| n.eq_ignore_ascii_case(instance)) {
            return tcp.and_then(|p| p.parse().ok()).ok_or_else(|| {
                Error::connection_failure(format!("instance {instance:?} does not listen on TCP"))
            });
        }
    }
    Err(Error::connection_failure(format!(
        "the SQL Browser does not know the instance {instance:?}"
    )))
}

/// Asks the browser on `host:browser_port` for the port of `instance`, retrying twice.
pub async fn instance_port(host: &str, browser_port: u16, instance: &str) -> Result<u16, Error> {
    let addr = tokio::net::lookup_host((host, browser_port))
        .await
        .map_err(|e| Error::connection_failure(format!("cannot resolve {host:?}: {e}")))?
        .next()
        .ok_or_else(|| Error::connection_failure(format!("no address for {host:?}")))?;
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(addr).await?;
    let req = instance_request(instance);
    let mut buf = vec![0u8; 4096];
    for _ in 0..3 {
        sock.send(&req).await?;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), sock.recv(&mut buf)).await {
            return parse_response(&buf[..n], instance);
        }
    }
    Err(Error::connection_failure(format!(
        "the SQL Browser at {addr} did not answer for instance {instance:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_golden() {
        assert_eq!(instance_request("SQLEXPRESS"), b"\x04SQLEXPRESS\0".to_vec());
    }

    #[test]
    fn response_parsing() {
        let text = "ServerName;H;InstanceName;A;IsClustered;No;Version;16.0;tcp;1500;;\
                    ServerName;H;InstanceName;SQLEXPRESS;IsClustered;No;Version;16.0;tcp;51000;;";
        let mut b = vec![0x05];
        b.extend_from_slice(&(text.len() as u16).to_le_bytes());
        b.extend_from_slice(text.as_bytes());
        assert_eq!(parse_response(&b, "sqlexpress").unwrap(), 51000);
        assert_eq!(parse_response(&b, "A").unwrap(), 1500);
        assert!(parse_response(&b, "B").is_err());
        assert!(parse_response(&[0x05], "A").is_err());
    }
}
