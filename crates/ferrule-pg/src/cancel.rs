//! CancelRequest on a separate connection, over TLS when the main connection uses TLS.

use std::sync::Arc;

use bytes::BytesMut;
use ferrule_core::Error;
use postgres_protocol::message::frontend;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connect::{open_socket, ssl_handshake, Endpoint};

/// Where and how to send a CancelRequest for one connection.
#[derive(Clone)]
pub struct CancelTarget {
    pub endpoint: Endpoint,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub process_id: i32,
    pub secret_key: i32,
}

impl CancelTarget {
    /// Sends the CancelRequest and waits until the server closes the socket, which it does
    /// once the request has been processed.
    pub async fn send(&self) -> Result<(), Error> {
        let mut buf = BytesMut::with_capacity(16);
        frontend::cancel_request(self.process_id, self.secret_key, &mut buf);
        let (socket, _) = open_socket(&self.endpoint).await?;
        let mut stream = match &self.tls {
            Some((config, name)) => {
                ssl_handshake(socket, config.clone(), name.clone(), true)
                    .await?
                    .0
            }
            None => socket,
        };
        stream.write_all(&buf).await?;
        stream.flush().await?;
        let mut sink = [0u8; 64];
        while stream.read(&mut sink).await? > 0 {}
        Ok(())
    }
}
