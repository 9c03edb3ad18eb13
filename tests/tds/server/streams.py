"""The byte streams TDS packets travel over: plain TCP, and TLS on top of it.

TLS uses `ssl.SSLObject` over memory buffers rather than asyncio's start_tls because SQL
Server's TDS 7.x handshake travels inside PRELOGIN packets, and after a login-only
handshake the connection goes back to plain text: both need control over the raw bytes.
"""

from __future__ import annotations

import asyncio
import ssl

from .packets import PRELOGIN, ByteStream, read_message, split_packets
from .wire import ProtocolError

READ_CHUNK = 65536


class ConnectionClosed(Exception):
    """The client closed the connection."""


class PlainStream:
    """The TCP connection, with one byte of push-back (to sniff TLS-first clients)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._pushed = b""

    def push_back(self, data: bytes) -> None:
        self._pushed = data + self._pushed

    async def read_some(self) -> bytes:
        if self._pushed:
            data, self._pushed = self._pushed, b""
            return data
        data = await self.reader.read(READ_CHUNK)
        if not data:
            raise ConnectionClosed("client closed the connection")
        return data

    async def read_exactly(self, n: int) -> bytes:
        head = b""
        if self._pushed:
            head, self._pushed = self._pushed[:n], self._pushed[n:]
            if len(head) == n:
                return head
        try:
            return head + await self.reader.readexactly(n - len(head))
        except asyncio.IncompleteReadError as exc:
            raise ConnectionClosed("client closed the connection") from exc

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


class TlsStream:
    """TLS over a PlainStream through memory BIOs."""

    def __init__(self, raw: PlainStream, context: ssl.SSLContext) -> None:
        self.raw = raw
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._plain = bytearray()

    async def handshake_in_prelogin(self) -> None:
        """The TDS 7.x handshake: each TLS flight travels as the payload of PRELOGIN packets."""
        while True:
            message = await read_message(self.raw)
            if message.type != PRELOGIN:
                raise ProtocolError(
                    f"expected PRELOGIN packets carrying TLS, got type 0x{message.type:02x}"
                )
            self._incoming.write(message.payload)
            done = self._step_handshake()
            out = self._outgoing.read()
            if out:
                await self.raw.write(split_packets(PRELOGIN, out, 4096))
            if done:
                return

    async def handshake_direct(self) -> None:
        """TDS 8.0 strict: TLS first, on the bare TCP stream."""
        while True:
            done = self._step_handshake()
            out = self._outgoing.read()
            if out:
                await self.raw.write(out)
            if done:
                return
            self._incoming.write(await self.raw.read_some())

    def _step_handshake(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as exc:
            raise ProtocolError(f"TLS handshake failed: {exc}") from exc
        return True

    async def read_exactly(self, n: int) -> bytes:
        while len(self._plain) < n:
            try:
                chunk = self.tls.read(READ_CHUNK)
                if not chunk:
                    raise ConnectionClosed("client closed the TLS session")
                self._plain += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError as exc:
                raise ConnectionClosed("client closed the TLS session") from exc
            except ssl.SSLError as exc:
                raise ProtocolError(f"TLS error: {exc}") from exc
            out = self._outgoing.read()
            if out:
                await self.raw.write(out)
            self._incoming.write(await self.raw.read_some())
        data = bytes(self._plain[:n])
        del self._plain[:n]
        return data

    async def write(self, data: bytes) -> None:
        self.tls.write(data)
        await self.raw.write(self._outgoing.read())

    def leftover(self) -> bytes:
        """Decrypted bytes not read yet (must be none when TLS is switched off after login)."""
        return bytes(self._plain)


def server_context(cert: str, key: str, *, alpn: bool, max_tls12: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if max_tls12:
        # SQL Server speaks TLS 1.2 inside PRELOGIN; TLS 1.3 session tickets sent after the
        # handshake would arrive outside the PRELOGIN framing the client expects.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(["tds/8.0"])
    return context


__all__ = ["ByteStream", "ConnectionClosed", "PlainStream", "TlsStream", "server_context"]
