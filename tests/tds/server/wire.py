"""Little-endian readers and writers of the TDS primitive types (B_VARCHAR, US_VARCHAR, ...)."""

from __future__ import annotations

import struct


class ProtocolError(Exception):
    """The client sent bytes that do not follow TDS; the connection is closed."""


class Reader:
    """Reads TDS primitives from one message; every read is bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(
                f"message truncated: need {n} bytes at offset {self.pos}, "
                f"have {len(self.data) - self.pos}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u16be(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def i32(self) -> int:
        return int.from_bytes(self.take(4), "little", signed=True)

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def ucs2(self, chars: int) -> str:
        return self.take(2 * chars).decode("utf-16-le")

    def b_varchar(self) -> str:
        return self.ucs2(self.u8())

    def us_varchar(self) -> str:
        return self.ucs2(self.u16())

    def b_varbyte(self) -> bytes:
        return self.take(self.u8())


def ucs2(text: str) -> bytes:
    return text.encode("utf-16-le")


def b_varchar(text: str) -> bytes:
    raw = ucs2(text)
    if len(raw) // 2 > 255:
        raise ValueError(f"B_VARCHAR longer than 255 characters: {text[:40]!r}...")
    return bytes([len(raw) // 2]) + raw


def us_varchar(text: str) -> bytes:
    raw = ucs2(text)
    return struct.pack("<H", len(raw) // 2) + raw


def b_varbyte(data: bytes) -> bytes:
    return bytes([len(data)]) + data
