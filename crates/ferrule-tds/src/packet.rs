//! TDS packets: the 8-byte header every message is framed in, splitting an outgoing message
//! into packets of the negotiated size, and reassembling incoming packets into messages.

use bytes::{Buf, BufMut, BytesMut};
use ferrule_core::Error;

pub const HEADER_LEN: usize = 8;

/// Packet types (MS-TDS 2.2.3.1.1).
pub mod kind {
    pub const SQL_BATCH: u8 = 0x01;
    pub const RPC: u8 = 0x03;
    pub const TABULAR_RESULT: u8 = 0x04;
    pub const ATTENTION: u8 = 0x06;
    pub const BULK_LOAD: u8 = 0x07;
    pub const TRANSACTION_MANAGER: u8 = 0x0E;
    pub const LOGIN7: u8 = 0x10;
    pub const PRELOGIN: u8 = 0x12;
}

/// Packet status bits (MS-TDS 2.2.3.1.2).
pub mod status {
    pub const EOM: u8 = 0x01;
    pub const IGNORE: u8 = 0x02;
    pub const RESET_CONNECTION: u8 = 0x08;
    pub const RESET_CONNECTION_SKIP_TRAN: u8 = 0x10;
}

/// The packet size used until the server announces another in an ENVCHANGE.
pub const DEFAULT_PACKET_SIZE: usize = 4096;
/// The range SQL Server accepts for the packet size.
pub const MIN_PACKET_SIZE: usize = 512;
pub const MAX_PACKET_SIZE: usize = 32767;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    pub kind: u8,
    pub status: u8,
    /// Header included.
    pub length: u16,
    pub spid: u16,
    pub packet_id: u8,
}

impl PacketHeader {
    pub fn parse(b: &[u8]) -> Result<PacketHeader, Error> {
        if b.len() < HEADER_LEN {
            return Err(Error::protocol("truncated TDS packet header"));
        }
        let length = u16::from_be_bytes([b[2], b[3]]);
        if (length as usize) < HEADER_LEN {
            return Err(Error::protocol(format!(
                "TDS packet length {length} is below 8"
            )));
        }
        Ok(PacketHeader {
            kind: b[0],
            status: b[1],
            length,
            spid: u16::from_be_bytes([b[4], b[5]]),
            packet_id: b[6],
        })
    }

    pub fn is_last(&self) -> bool {
        self.status & status::EOM != 0
    }

    pub fn write(&self, out: &mut BytesMut) {
        out.put_u8(self.kind);
        out.put_u8(self.status);
        out.put_u16(self.length);
        out.put_u16(self.spid);
        out.put_u8(self.packet_id);
        out.put_u8(0);
    }
}

/// Frames `payload` as a message of packets of at most `packet_size` bytes. `first_status`
/// goes on the first packet only (the reset-connection flags); EOM marks the last.
pub fn frame_message(
    kind: u8,
    first_status: u8,
    payload: &[u8],
    packet_size: usize,
    out: &mut BytesMut,
) {
    let room = packet_size.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE) - HEADER_LEN;
    let count = payload.len().div_ceil(room).max(1);
    out.reserve(payload.len() + count * HEADER_LEN);
    let mut chunks = payload.chunks(room).peekable();
    let mut packet_id: u8 = 1;
    let mut status = first_status;
    loop {
        let chunk = chunks.next().unwrap_or(&[]);
        let last = chunks.peek().is_none();
        if last {
            status |= status::EOM;
        }
        PacketHeader {
            kind,
            status,
            length: (chunk.len() + HEADER_LEN) as u16,
            spid: 0,
            packet_id,
        }
        .write(out);
        out.extend_from_slice(chunk);
        if last {
            break;
        }
        packet_id = packet_id.wrapping_add(1);
        status = 0;
    }
}

/// Reassembles packets read from the socket: payload bytes go to `payload` as they arrive
/// (tokens are decoded while a long message is still coming), headers are checked.
#[derive(Default)]
pub struct PacketReader {
    /// Payload bytes still expected of the packet being read.
    remaining: usize,
    /// The last packet of the current message has been read.
    pub message_done: bool,
    pub last_kind: u8,
}

impl PacketReader {
    /// Moves every complete header and available payload byte from `wire` into `payload`.
    /// Returns whether the end of a message was reached (then the caller decides what comes
    /// next; bytes after it stay in `wire`).
    pub fn feed(&mut self, wire: &mut BytesMut, payload: &mut BytesMut) -> Result<bool, Error> {
        if self.remaining == 0 && self.message_done && wire.len() < HEADER_LEN {
            // Still at the end of the last message: nothing of the next one is here yet.
            return Ok(true);
        }
        loop {
            if self.remaining > 0 {
                let n = self.remaining.min(wire.len());
                if n == 0 {
                    return Ok(false);
                }
                payload.extend_from_slice(&wire[..n]);
                wire.advance(n);
                self.remaining -= n;
                if self.remaining == 0 && self.message_done {
                    return Ok(true);
                }
                continue;
            }
            if self.message_done {
                // The previous message ended; a new one starts with this header.
                self.message_done = false;
            }
            if wire.len() < HEADER_LEN {
                return Ok(false);
            }
            let h = PacketHeader::parse(&wire[..HEADER_LEN])?;
            if h.kind != kind::TABULAR_RESULT && h.kind != kind::PRELOGIN {
                return Err(Error::protocol(format!(
                    "unexpected TDS packet type {:#04x} from the server",
                    h.kind
                )));
            }
            wire.advance(HEADER_LEN);
            self.last_kind = h.kind;
            self.remaining = h.length as usize - HEADER_LEN;
            self.message_done = h.is_last();
            if self.remaining == 0 && self.message_done {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_golden() {
        let mut out = BytesMut::new();
        frame_message(kind::SQL_BATCH, 0, b"abc", 4096, &mut out);
        assert_eq!(
            &out[..],
            &[0x01, 0x01, 0x00, 0x0B, 0x00, 0x00, 0x01, 0x00, b'a', b'b', b'c']
        );
    }

    #[test]
    fn attention_is_a_bare_header() {
        let mut out = BytesMut::new();
        frame_message(kind::ATTENTION, 0, &[], 4096, &mut out);
        assert_eq!(&out[..], &[0x06, 0x01, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn split_and_reassemble() {
        let payload: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let mut out = BytesMut::new();
        frame_message(kind::RPC, status::RESET_CONNECTION, &payload, 512, &mut out);
        // 504 payload bytes per packet: 4 packets; the reset flag on the first only.
        assert_eq!(out.len(), 2000 + 4 * 8);
        assert_eq!(out[1], status::RESET_CONNECTION);
        assert_eq!(out[512 + 1], 0);
        assert_eq!(out[512 + 6], 2);
        // Read back as if it were a server's tabular result, a byte at a time.
        let mut wire = BytesMut::new();
        let mut reader = PacketReader::default();
        let mut got = BytesMut::new();
        let mut done = false;
        for (i, b) in out.iter().enumerate() {
            let mut b = *b;
            if i % 512 == 0 {
                b = kind::TABULAR_RESULT;
            }
            wire.put_u8(b);
            done = reader.feed(&mut wire, &mut got).unwrap();
        }
        assert!(done);
        assert_eq!(&got[..], &payload[..]);
    }

    #[test]
    fn hostile_headers() {
        let mut reader = PacketReader::default();
        let mut got = BytesMut::new();
        let mut wire = BytesMut::from(&[0x04, 0x01, 0x00, 0x03, 0, 0, 1, 0][..]);
        assert!(reader.feed(&mut wire, &mut got).is_err());
        let mut wire = BytesMut::from(&[0x01, 0x01, 0x00, 0x08, 0, 0, 1, 0][..]);
        assert!(PacketReader::default().feed(&mut wire, &mut got).is_err());
    }
}
