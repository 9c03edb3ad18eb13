//! Sans-IO reading of server messages: bytes from the socket go in, tokens and rows come out
//! as soon as each is complete. Rows keep their wire bytes for the binding layer to decode.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use ferrule_core::Error;

use crate::packet::PacketReader;
use crate::token::{self, Column, Token};
use crate::wire::DecodeError;

/// The largest token accepted (a row with a 1 GiB value, and some).
pub const MAX_TOKEN: usize = (1 << 30) + (1 << 20);

/// A row as received: its columns and the token's body.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub nbc: bool,
    pub body: Bytes,
}

#[derive(Debug)]
pub enum Event {
    Token(Token),
    Row(RawRow),
}

#[derive(Default)]
pub struct ResponseDecoder {
    packets: PacketReader,
    /// Bytes read from the socket, packet headers included.
    pub wire: BytesMut,
    /// Payload bytes of the current message not yet decoded.
    msg: BytesMut,
    columns: Option<Arc<[Column]>>,
}

impl ResponseDecoder {
    pub fn new(wire: BytesMut) -> Self {
        ResponseDecoder {
            wire,
            ..Default::default()
        }
    }

    /// The columns of the result set being read.
    pub fn columns(&self) -> Option<&Arc<[Column]>> {
        self.columns.as_ref()
    }

    /// The next complete token or row, or None when more bytes must be read first.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if !self.msg.is_empty() {
                match token::decode(&self.msg, self.columns.as_deref()) {
                    Ok((Token::Row { nbc }, n)) => {
                        let mut tok = self.msg.split_to(n);
                        tok.advance(1);
                        return Ok(Some(Event::Row(RawRow {
                            nbc,
                            body: tok.freeze(),
                        })));
                    }
                    Ok((t, n)) => {
                        self.msg.advance(n);
                        if let Token::ColMetadata(cols) = &t {
                            self.columns = cols.clone();
                        }
                        return Ok(Some(Event::Token(t)));
                    }
                    Err(DecodeError::Incomplete) => {}
                    Err(DecodeError::Bad(m)) => {
                        return Err(Error::protocol(format!("malformed response: {m}")))
                    }
                }
            }
            let before = self.msg.len();
            let ended = self.packets.feed(&mut self.wire, &mut self.msg)?;
            if self.msg.len() > MAX_TOKEN {
                return Err(Error::protocol(format!(
                    "a response token larger than {MAX_TOKEN} bytes was refused"
                )));
            }
            if self.msg.len() == before {
                if ended && !self.msg.is_empty() {
                    return Err(Error::protocol("the server's message ends inside a token"));
                }
                return Ok(None);
            }
        }
    }

    /// Room to read into, reclaiming space of consumed bytes.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        if self.wire.capacity() - self.wire.len() < 4096 {
            self.wire.reserve(32 * 1024);
        }
        &mut self.wire
    }

    /// Whole payload of one message (PRELOGIN responses), or None until it is complete.
    pub fn take_message(&mut self) -> Result<Option<BytesMut>, Error> {
        let ended = self.packets.feed(&mut self.wire, &mut self.msg)?;
        if ended {
            return Ok(Some(std::mem::take(&mut self.msg)));
        }
        Ok(None)
    }

    /// Forgets the current result's columns (a new request starts).
    pub fn reset_columns(&mut self) {
        self.columns = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{frame_message, kind};

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// `SELECT 1 AS n; SELECT 'x' AS s` as a server answers it.
    pub fn two_result_sets() -> Vec<u8> {
        let mut p = vec![0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0x38, 1];
        p.extend(utf16("n"));
        p.extend_from_slice(&[0xD1, 1, 0, 0, 0]);
        p.extend_from_slice(&[0xFD, 0x11, 0, 0xC1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[
            0x81, 1, 0, 0, 0, 0, 0, 1, 0, 0xE7, 2, 0, 9, 4, 0xD0, 0, 0x34, 1,
        ]);
        p.extend(utf16("s"));
        p.extend_from_slice(&[0xD1, 2, 0, b'x', 0]);
        p.extend_from_slice(&[0xFD, 0x10, 0, 0xC1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        p
    }

    fn events(wire: &[u8], chunk: usize) -> Vec<String> {
        let mut d = ResponseDecoder::default();
        let mut out = Vec::new();
        for part in wire.chunks(chunk) {
            d.wire.extend_from_slice(part);
            while let Some(e) = d.next_event().unwrap() {
                out.push(match e {
                    Event::Row(r) => format!("row {:?}", &r.body[..]),
                    Event::Token(Token::ColMetadata(Some(c))) => format!("cols {}", c[0].name),
                    Event::Token(Token::Done(d)) => {
                        format!("done {:?} more={}", d.count(), d.has_more())
                    }
                    Event::Token(t) => format!("{t:?}"),
                });
            }
        }
        out
    }

    #[test]
    fn response_across_packets_golden() {
        let payload = two_result_sets();
        let mut wire = BytesMut::new();
        frame_message(kind::TABULAR_RESULT, 0, &payload, 512, &mut wire);
        let expected = vec![
            "cols n",
            "row [1, 0, 0, 0]",
            "done Some(1) more=true",
            "cols s",
            "row [2, 0, 120, 0]",
            "done Some(1) more=false",
        ];
        for chunk in [1, 3, 7, 64, 4096] {
            assert_eq!(events(&wire, chunk), expected);
        }
    }

    #[test]
    fn truncated_message_is_an_error() {
        let payload = two_result_sets();
        let mut wire = BytesMut::new();
        frame_message(
            kind::TABULAR_RESULT,
            0,
            &payload[..payload.len() - 3],
            4096,
            &mut wire,
        );
        let mut d = ResponseDecoder::new(wire);
        let mut result = Ok(None);
        for _ in 0..10 {
            result = d.next_event();
            if !matches!(result, Ok(Some(_))) {
                break;
            }
        }
        assert!(result.is_err());
    }
}
