"""LOGIN7: parsing the client's login record, password de-obfuscation, feature extensions."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .wire import ProtocolError, Reader

TDS74 = 0x74000004
SUPPORTED_VERSIONS = (0x72090002, 0x730A0003, 0x730B0003, TDS74)

FEATURE_FEDAUTH = 0x02
FEATURE_TERMINATOR = 0xFF
FEDAUTH_LIBRARY_SECURITYTOKEN = 0x01

# OptionFlags3 bit: ibExtension points at a DWORD offset of the FeatureExt block.
_F_EXTENSION = 0x10
_FIXED_SIZE = 94


@dataclass
class Login7:
    tds_version: int
    packet_size: int
    client_pid: int
    hostname: str
    username: str
    password: str
    app_name: str
    server_name: str
    library_name: str
    language: str
    database: str
    has_sspi: bool
    features: dict[int, bytes] = field(default_factory=dict)

    def fedauth_token(self) -> str | None:
        """The access token of a FEDAUTH (security token library) extension, if any."""
        data = self.features.get(FEATURE_FEDAUTH)
        if data is None:
            return None
        reader = Reader(data)
        options = reader.u8()
        if options >> 1 != FEDAUTH_LIBRARY_SECURITYTOKEN:
            raise ProtocolError(f"FEDAUTH library {options >> 1} is not supported")
        token = reader.take(reader.u32())
        return token.decode("utf-16-le")


def deobfuscate_password(raw: bytes) -> str:
    """LOGIN7 passwords are UCS-2 with each byte XORed with 0xA5 and its nibbles swapped."""
    plain = bytes((((b ^ 0xA5) << 4) & 0xF0) | ((b ^ 0xA5) >> 4) for b in raw)
    return plain.decode("utf-16-le")


def obfuscate_password(password: str) -> bytes:
    return bytes(((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5) for b in password.encode("utf-16-le"))


def parse_login7(payload: bytes) -> Login7:
    if len(payload) < _FIXED_SIZE:
        raise ProtocolError(f"LOGIN7 of {len(payload)} bytes, shorter than its fixed part")
    reader = Reader(payload)
    length = reader.u32()
    if length > len(payload):
        raise ProtocolError(f"LOGIN7 says {length} bytes, message has {len(payload)}")
    tds_version = reader.u32()
    packet_size = reader.u32()
    reader.u32()  # client program version
    client_pid = reader.u32()
    reader.u32()  # connection id
    reader.u8()  # option flags 1
    reader.u8()  # option flags 2
    reader.u8()  # type flags
    option_flags3 = reader.u8()
    reader.take(8)  # client time zone, LCID

    def span() -> tuple[int, int]:
        return reader.u16(), reader.u16()

    def text(offset: int, chars: int) -> str:
        if offset + 2 * chars > length:
            raise ProtocolError("LOGIN7 field points outside the record")
        return payload[offset : offset + 2 * chars].decode("utf-16-le")

    host, user, password, app, server = (span() for _ in range(5))
    extension = span()
    library, language, database = (span() for _ in range(3))
    reader.take(6)  # client MAC address
    sspi = span()
    reader.take(8)  # attach-db file, change password (unused)
    pw_offset, pw_chars = password
    if pw_offset + 2 * pw_chars > length:
        raise ProtocolError("LOGIN7 password points outside the record")
    features: dict[int, bytes] = {}
    if option_flags3 & _F_EXTENSION and extension[1] >= 4:
        (feature_offset,) = struct.unpack_from("<I", payload, extension[0])
        features = _parse_features(payload, feature_offset)
    return Login7(
        tds_version=tds_version,
        packet_size=packet_size,
        client_pid=client_pid,
        hostname=text(*host),
        username=text(*user),
        password=deobfuscate_password(payload[pw_offset : pw_offset + 2 * pw_chars]),
        app_name=text(*app),
        server_name=text(*server),
        library_name=text(*library),
        language=text(*language),
        database=text(*database),
        has_sspi=sspi[1] > 0,
        features=features,
    )


def _parse_features(payload: bytes, offset: int) -> dict[int, bytes]:
    reader = Reader(payload, offset)
    features: dict[int, bytes] = {}
    while True:
        feature = reader.u8()
        if feature == FEATURE_TERMINATOR:
            return features
        features[feature] = reader.take(reader.u32())
