"""PRELOGIN: the options exchanged first (version, encryption, instance, MARS, FedAuth)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from .wire import ProtocolError, Reader

VERSION = 0x00
ENCRYPTION = 0x01
INSTOPT = 0x02
THREADID = 0x03
MARS = 0x04
TRACEID = 0x05
FEDAUTHREQUIRED = 0x06
NONCEOPT = 0x07
TERMINATOR = 0xFF

ENCRYPT_OFF = 0x00
ENCRYPT_ON = 0x01
ENCRYPT_NOT_SUP = 0x02
ENCRYPT_REQ = 0x03

# SQL Server 2022 (16.0), build 1000.
SERVER_VERSION = bytes([16, 0]) + struct.pack(">H", 1000) + struct.pack(">H", 0)


class EncryptionPolicy(Enum):
    """What the server offers: TLS optional (the default), required, or not at all."""

    OPTIONAL = "optional"
    REQUIRED = "required"
    UNSUPPORTED = "unsupported"


class TlsScope(Enum):
    """What the negotiation decided is encrypted."""

    NONE = "none"
    LOGIN_ONLY = "login"
    FULL = "full"


@dataclass
class PreloginRequest:
    options: dict[int, bytes]

    @property
    def encryption(self) -> int:
        value = self.options.get(ENCRYPTION, bytes([ENCRYPT_OFF]))
        return value[0] & 0x0F if value else ENCRYPT_OFF

    @property
    def wants_fedauth(self) -> bool:
        return bool(self.options.get(FEDAUTHREQUIRED, b"\x00")[:1] == b"\x01")


def parse_prelogin(payload: bytes) -> PreloginRequest:
    reader = Reader(payload)
    options: dict[int, bytes] = {}
    while True:
        token = reader.u8()
        if token == TERMINATOR:
            break
        offset = reader.u16be()
        length = reader.u16be()
        if offset + length > len(payload):
            raise ProtocolError(f"PRELOGIN option 0x{token:02x} points outside the message")
        options[token] = payload[offset : offset + length]
    if VERSION not in options:
        raise ProtocolError("PRELOGIN without the VERSION option")
    return PreloginRequest(options)


def negotiate(client: int, policy: EncryptionPolicy) -> tuple[int, TlsScope, bool]:
    """(the server's ENCRYPTION answer, what gets encrypted, whether to hang up after)."""
    if policy is EncryptionPolicy.UNSUPPORTED:
        refuse = client in (ENCRYPT_ON, ENCRYPT_REQ)
        return ENCRYPT_NOT_SUP, TlsScope.NONE, refuse
    if policy is EncryptionPolicy.REQUIRED:
        if client == ENCRYPT_NOT_SUP:
            return ENCRYPT_REQ, TlsScope.NONE, True
        return (ENCRYPT_ON if client != ENCRYPT_OFF else ENCRYPT_REQ), TlsScope.FULL, False
    if client == ENCRYPT_OFF:
        return ENCRYPT_OFF, TlsScope.LOGIN_ONLY, False
    if client == ENCRYPT_NOT_SUP:
        return ENCRYPT_NOT_SUP, TlsScope.NONE, False
    return ENCRYPT_ON, TlsScope.FULL, False


def build_prelogin_response(encryption: int, request: PreloginRequest) -> bytes:
    options: list[tuple[int, bytes]] = [
        (VERSION, SERVER_VERSION),
        (ENCRYPTION, bytes([encryption])),
        (INSTOPT, b"\x00"),
        (THREADID, b""),
        (MARS, b"\x00"),
    ]
    if FEDAUTHREQUIRED in request.options:
        options.append((FEDAUTHREQUIRED, b"\x00"))
    header_size = 5 * len(options) + 1
    head = bytearray()
    body = bytearray()
    for token, value in options:
        head += struct.pack(">BHH", token, header_size + len(body), len(value))
        body += value
    return bytes(head) + bytes([TERMINATOR]) + bytes(body)
