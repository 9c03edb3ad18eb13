"""A minimal TDS client for the protocol tests: sends exactly the bytes a test needs
(RESETCONNECTION, several RPCs in one message, ATTENTION at a chosen moment, TDS 8.0 strict
TLS, FEDAUTH) and hands back the response tokens. Its readers are the server's own
(tests/tds/server), so it checks behaviour, not encodings; the independent clients in
test_server_honesty.py check encodings."""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any

from tests.tds.server import tokens as tk
from tests.tds.server.client_values import read_value
from tests.tds.server.login7 import FEATURE_FEDAUTH, obfuscate_password
from tests.tds.server.packets import (
    ATTENTION,
    HEADER,
    LOGIN7,
    PRELOGIN,
    RPC,
    SQL_BATCH,
    STATUS_EOM,
    TRANSACTION_MANAGER,
)
from tests.tds.server.types import read_type_info
from tests.tds.server.wire import Reader, b_varchar, ucs2


@dataclass
class Response:
    tokens: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[Any]:
        return [value for name, value in self.tokens if name == kind]

    @property
    def rows(self) -> list[list[Any]]:
        return self.of("row")

    @property
    def errors(self) -> list[tuple[int, str]]:
        return self.of("error")

    @property
    def dones(self) -> list[tuple[str, int, int]]:
        return [v for n, v in self.tokens if n in ("done", "doneproc", "doneinproc")]


def all_headers(descriptor: bytes = bytes(8)) -> bytes:
    return struct.pack("<IIH", 22, 18, 2) + descriptor + struct.pack("<I", 1)


class RawClient:
    def __init__(self, host: str, port: int, *, strict_ca: str | None = None,
                 server_name: str = "localhost", packet_size: int = 4096) -> None:  # fmt: skip
        self.sock: Any = socket.create_connection((host, port), timeout=15)
        if strict_ca is not None:
            context = ssl.create_default_context(cafile=strict_ca)
            context.set_alpn_protocols(["tds/8.0"])
            self.sock = context.wrap_socket(self.sock, server_hostname=server_name)
        self.packet_size = packet_size
        self.descriptor = bytes(8)

    # -- framing ---------------------------------------------------------------------------------

    def send(self, ptype: int, payload: bytes, status: int = 0) -> None:
        room = 4096 - 8
        chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            flags = status | (STATUS_EOM if last else 0)
            self.sock.sendall(HEADER.pack(ptype, flags, 8 + len(chunk), 0, n + 1, 0) + chunk)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def receive_message(self) -> tuple[int, bytes]:
        parts = []
        while True:
            ptype, status, length, _spid, _pid, _w = HEADER.unpack(self._exactly(8))
            parts.append(self._exactly(length - 8))
            if status & STATUS_EOM:
                return ptype, b"".join(parts)

    # -- handshake ----------------------------------------------------------------------------

    def login(self, user: str, password: str, database: str, *, token: str | None = None,
              tds_version: int = 0x74000004) -> Response:  # fmt: skip
        prelogin = bytes([0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xFF]) + bytes(6) + bytes([2])
        self.send(PRELOGIN, prelogin)
        self.receive_message()
        fields = [ucs2("raw-host"), ucs2(user if token is None else ""),
                  obfuscate_password(password if token is None else ""), ucs2("raw-client"),
                  ucs2("server"), b"", ucs2("raw"), ucs2(""), ucs2(database)]  # fmt: skip
        head, data = b"", b""
        offset = 94
        extension = b""
        if token is not None:
            raw = token.encode("utf-16-le")
            feature = bytes([FEATURE_FEDAUTH]) + struct.pack("<I", 1 + 4 + len(raw))
            feature += bytes([0x01 << 1]) + struct.pack("<I", len(raw)) + raw + b"\xff"
            extension = feature
        for i, value in enumerate(fields):
            if i == 5 and extension:
                head += struct.pack("<HH", offset + len(data), 4)
                data += b"\x00\x00\x00\x00"  # patched below with the FeatureExt offset
                continue
            chars = len(value) // 2
            head += struct.pack("<HH", offset + len(data), chars)
            data += value
        end = offset + len(data)
        head += bytes(6) + struct.pack("<HH", end, 0) + struct.pack("<HHHH", end, 0, end, 0)
        head += struct.pack("<I", 0)
        flags3 = 0x10 if extension else 0
        fixed = struct.pack("<IIIIIIBBBBII", 0, tds_version, self.packet_size, 0, 0, 0,
                            0xE0, 0x03, 0, flags3, 0, 0x409)  # fmt: skip
        body = bytearray(fixed + head + data + extension)
        if extension:
            ext_at = struct.unpack_from("<H", head, 5 * 4)[0]
            struct.pack_into("<I", body, ext_at, len(fixed) + len(head) + len(data))
        struct.pack_into("<I", body, 0, len(body))
        self.send(LOGIN7, bytes(body))
        return self.response()

    # -- requests ---------------------------------------------------------------------------------

    def batch(self, sql: str, *, reset: bool = False) -> Response:
        self.send(SQL_BATCH, all_headers(self.descriptor) + ucs2(sql), 0x08 if reset else 0)
        return self.response()

    def send_batch(self, sql: str) -> None:
        self.send(SQL_BATCH, all_headers(self.descriptor) + ucs2(sql))

    def attention(self) -> None:
        self.send(ATTENTION, b"")

    def rpc(self, calls: list[tuple[str | int, list[tuple[str, int, bytes]]]]) -> Response:
        """Calls: (name or proc id, [(param name, status flags, TYPE_INFO + value bytes)])."""
        body = bytearray(all_headers(self.descriptor))
        for n, (proc, params) in enumerate(calls):
            if n:
                body += b"\xff"
            if isinstance(proc, int):
                body += struct.pack("<HH", 0xFFFF, proc)
            else:
                body += struct.pack("<H", len(proc)) + ucs2(proc)
            body += b"\x00\x00"
            for name, status, typed_value in params:
                body += b_varchar(name) + bytes([status]) + typed_value
        self.send(RPC, bytes(body))
        return self.response()

    def transaction(self, request: int, payload: bytes) -> Response:
        self.send(TRANSACTION_MANAGER, all_headers(self.descriptor) + struct.pack("<H", request)
                  + payload)  # fmt: skip
        return self.response()

    # -- responses ----------------------------------------------------------------------------

    def response(self) -> Response:
        _ptype, payload = self.receive_message()
        return self.parse(payload)

    def parse(self, payload: bytes) -> Response:
        reader = Reader(payload)
        response = Response()
        columns: list[Any] = []
        while reader.remaining():
            token = reader.u8()
            if token == tk.COLMETADATA:
                count = reader.u16()
                columns = []
                for _ in range(0 if count == 0xFFFF else count):
                    reader.u32()
                    reader.u16()
                    wire_type = read_type_info(reader)
                    if wire_type.sql.name in ("text", "ntext", "image"):
                        for _part in range(reader.u8()):
                            reader.us_varchar()
                    columns.append((reader.b_varchar(), wire_type))
                response.tokens.append(("columns", [c[0] for c in columns]))
            elif token == tk.ROW:
                values = [read_value(reader, wt, in_bulk=True) for _, wt in columns]
                response.tokens.append(("row", values))
            elif token == tk.NBCROW:
                bitmap = reader.take((len(columns) + 7) // 8)
                values = [None if bitmap[i // 8] >> (i % 8) & 1
                          else read_value(reader, wt, in_bulk=True)
                          for i, (_, wt) in enumerate(columns)]  # fmt: skip
                response.tokens.append(("row", values))
            elif token in (tk.DONE, tk.DONEPROC, tk.DONEINPROC):
                status, _cmd, rows = struct.unpack("<HHQ", reader.take(12))
                name = {tk.DONE: "done", tk.DONEPROC: "doneproc", tk.DONEINPROC: "doneinproc"}
                response.tokens.append((name[token], (status, rows)))
            elif token in (tk.ERROR, tk.INFO):
                body = Reader(reader.take(reader.u16()))
                number, _state, _severity = body.i32(), body.u8(), body.u8()
                text = body.us_varchar()
                response.tokens.append(("error" if token == tk.ERROR else "info", (number, text)))
            elif token == tk.ENVCHANGE:
                body = Reader(reader.take(reader.u16()))
                kind = body.u8()
                if kind in (tk.ENV_BEGIN_TRAN, tk.ENV_COMMIT_TRAN, tk.ENV_ROLLBACK_TRAN,
                            tk.ENV_COLLATION, tk.ENV_RESET_ACK):  # fmt: skip
                    new, old = body.b_varbyte(), body.b_varbyte()
                    if kind == tk.ENV_BEGIN_TRAN:
                        self.descriptor = new
                    elif kind in (tk.ENV_COMMIT_TRAN, tk.ENV_ROLLBACK_TRAN):
                        self.descriptor = bytes(8)
                else:
                    new, old = body.b_varchar(), body.b_varchar()
                response.tokens.append(("envchange", (kind, new, old)))
            elif token == tk.LOGINACK:
                body = reader.take(reader.u16())
                response.tokens.append(("loginack", int.from_bytes(body[1:5], "big")))
            elif token == tk.FEATUREEXTACK:
                features = {}
                while (feature := reader.u8()) != 0xFF:
                    features[feature] = reader.take(reader.u32())
                response.tokens.append(("featureextack", features))
            elif token == tk.RETURNSTATUS:
                response.tokens.append(("returnstatus", reader.i32()))
            elif token == tk.RETURNVALUE:
                ordinal = reader.u16()
                name = reader.b_varchar()
                reader.u8()
                reader.u32()
                reader.u16()
                wire_type = read_type_info(reader)
                value = read_value(reader, wire_type)
                response.tokens.append(("returnvalue", (ordinal, name, value)))
            elif token == tk.ORDER:
                reader.take(reader.u16())
            else:
                raise AssertionError(f"unexpected token 0x{token:02x} at {reader.pos - 1}")
        return response

    def close(self) -> None:
        self.sock.close()


def int_param(value: int | None) -> bytes:
    if value is None:
        return bytes([0x26, 4, 0])
    return bytes([0x26, 4, 4]) + value.to_bytes(4, "little", signed=True)


def nvarchar_param(value: str | None) -> bytes:
    head = bytes([0xE7]) + (8000).to_bytes(2, "little") + bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
    if value is None:
        return head + b"\xff\xff"
    data = value.encode("utf-16-le")
    return head + len(data).to_bytes(2, "little") + data
