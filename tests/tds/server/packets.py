"""TDS packets: the 8-byte header, assembling messages from packets, splitting responses.

A message is one or more packets of the same type; the last has the EOM status bit. The
packet size is 4096 until LOGIN7 negotiates another.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from .wire import ProtocolError

HEADER = struct.Struct(">BBHHBB")
HEADER_SIZE = 8

# Packet types (MS-TDS 2.2.3.1.1).
SQL_BATCH = 0x01
RPC = 0x03
TABULAR_RESULT = 0x04
ATTENTION = 0x06
BULK_LOAD = 0x07
FEDAUTH_TOKEN = 0x08
TRANSACTION_MANAGER = 0x0E
LOGIN7 = 0x10
SSPI = 0x11
PRELOGIN = 0x12

# Packet status bits.
STATUS_EOM = 0x01
STATUS_IGNORE = 0x02
STATUS_RESET_CONNECTION = 0x08
STATUS_RESET_CONNECTION_SKIP_TRAN = 0x10

DEFAULT_PACKET_SIZE = 4096
MIN_PACKET_SIZE = 512
MAX_PACKET_SIZE = 32767
# A bound on one client message, so a hostile length cannot exhaust memory.
MAX_MESSAGE_SIZE = 256 * 1024 * 1024


class ByteStream(Protocol):
    """What packets travel over: the TCP stream or the TLS layer on top of it."""

    async def read_exactly(self, n: int) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


@dataclass
class Message:
    """One client message: its packet type, the status of its first packet, its payload."""

    type: int
    status: int
    payload: bytes

    @property
    def reset_connection(self) -> bool:
        return bool(self.status & (STATUS_RESET_CONNECTION | STATUS_RESET_CONNECTION_SKIP_TRAN))

    @property
    def keeps_transaction(self) -> bool:
        """RESETCONNECTIONSKIPTRAN: reset the session but leave its transaction open."""
        return bool(self.status & STATUS_RESET_CONNECTION_SKIP_TRAN)


async def read_packet(stream: ByteStream) -> tuple[int, int, bytes]:
    """One packet: (type, status, payload)."""
    header = await stream.read_exactly(HEADER_SIZE)
    ptype, status, length, _spid, _packet_id, _window = HEADER.unpack(header)
    if length < HEADER_SIZE or length > MAX_PACKET_SIZE + HEADER_SIZE:
        raise ProtocolError(f"packet length {length} out of range (type 0x{ptype:02x})")
    payload = await stream.read_exactly(length - HEADER_SIZE) if length > HEADER_SIZE else b""
    return ptype, status, payload


async def read_message(stream: ByteStream) -> Message:
    """Packets up to the one with EOM, joined. An ATTENTION packet is a message of its own."""
    ptype, status, payload = await read_packet(stream)
    first_status = status
    parts = [payload]
    size = len(payload)
    while not status & STATUS_EOM:
        more_type, status, payload = await read_packet(stream)
        if more_type == ATTENTION:
            raise ProtocolError("ATTENTION inside an unfinished message")
        if more_type != ptype:
            raise ProtocolError(
                f"packet of type 0x{more_type:02x} inside a message of type 0x{ptype:02x}"
            )
        size += len(payload)
        if size > MAX_MESSAGE_SIZE:
            raise ProtocolError(f"message larger than {MAX_MESSAGE_SIZE} bytes")
        parts.append(payload)
    if first_status & STATUS_IGNORE or status & STATUS_IGNORE:
        # The client abandoned the message (MS-TDS 2.2.3.1.2): it is discarded.
        return Message(ptype, first_status | STATUS_IGNORE, b"")
    return Message(ptype, first_status, b"".join(parts))


def split_packets(ptype: int, payload: bytes, packet_size: int, *, last: bool = True) -> bytes:
    """`payload` cut into packets of at most `packet_size` bytes, EOM on the last if `last`."""
    room = packet_size - HEADER_SIZE
    out = bytearray()
    offset = 0
    packet_id = 1
    while True:
        chunk = payload[offset : offset + room]
        offset += len(chunk)
        final = offset >= len(payload)
        status = STATUS_EOM if final and last else 0
        out += HEADER.pack(ptype, status, HEADER_SIZE + len(chunk), 0, packet_id & 0xFF, 0)
        out += chunk
        packet_id += 1
        if final:
            return bytes(out)


class ResponseWriter:
    """Collects the tokens of one response and sends them in full packets as they fill.

    Tokens are appended whole, so when a request is cancelled the bytes already sent always
    end on a token boundary and the attention acknowledgement can follow at once.
    """

    def __init__(self, stream: ByteStream, packet_size: int, spid: int = 0) -> None:
        self.stream = stream
        self.packet_size = packet_size
        self.spid = spid
        self._buffer = bytearray()
        self._packet_id = 1

    def add(self, token: bytes) -> None:
        self._buffer += token

    def pending(self) -> int:
        return len(self._buffer)

    async def flush_full(self) -> None:
        """Send every full packet in the buffer; keep the rest."""
        room = self.packet_size - HEADER_SIZE
        if len(self._buffer) <= room:
            return
        out = bytearray()
        # Keep at least one byte back so the final packet (with EOM) is never empty.
        while len(self._buffer) > room:
            chunk = bytes(self._buffer[:room])
            del self._buffer[:room]
            out += HEADER.pack(
                TABULAR_RESULT, 0, self.packet_size, self.spid, self._packet_id & 0xFF, 0
            )
            out += chunk
            self._packet_id += 1
        await self.stream.write(bytes(out))

    async def finish(self) -> None:
        """Send the rest with EOM: the response is complete."""
        await self.flush_full()
        chunk = bytes(self._buffer)
        self._buffer.clear()
        header = HEADER.pack(
            TABULAR_RESULT,
            STATUS_EOM,
            HEADER_SIZE + len(chunk),
            self.spid,
            self._packet_id & 0xFF,
            0,
        )
        self._packet_id = 1
        await self.stream.write(header + chunk)
