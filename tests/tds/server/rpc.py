"""RPC requests: calls by name or by well-known id (sp_executesql = 10, ...), their typed
parameters, and the RETURNSTATUS / RETURNVALUE / DONEPROC that answer each call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import procedures
from . import tokens as tk
from .client_values import read_value
from .errors import SqlError
from .procedures import Arg
from .types import read_type_info
from .wire import ProtocolError, Reader

if TYPE_CHECKING:
    from .engine import SqlSession

PROC_IDS = {
    1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare", 4: "sp_cursorexecute",
    5: "sp_cursorprepexec", 6: "sp_cursorunprepare", 7: "sp_cursorfetch", 8: "sp_cursoroption",
    9: "sp_cursorclose", 10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute",
    13: "sp_prepexec", 14: "sp_prepexecrpc", 15: "sp_unprepare",
}  # fmt: skip
_SEPARATORS = (0x80, 0xFF, 0xFE)
FLAG_BY_REF = 0x01
FLAG_DEFAULT = 0x02


@dataclass
class RpcCall:
    name: str
    args: list[Arg]
    raw_names: list[str]


def skip_all_headers(reader: Reader) -> None:
    """ALL_HEADERS (transaction descriptor, notifications, trace id): read past them."""
    if reader.remaining() < 4:
        return
    total = int.from_bytes(reader.data[reader.pos : reader.pos + 4], "little")
    if 4 <= total <= reader.remaining() and total < 1024:
        reader.take(total)


def parse_rpc(payload: bytes) -> list[RpcCall]:
    reader = Reader(payload)
    skip_all_headers(reader)
    calls = []
    while reader.remaining():
        length = reader.u16()
        if length == 0xFFFF:
            proc_id = reader.u16()
            if proc_id not in PROC_IDS:
                raise ProtocolError(f"unknown RPC procedure id {proc_id}")
            name = PROC_IDS[proc_id]
        else:
            name = reader.ucs2(length)
        reader.u16()  # option flags (recompile, no metadata): nothing to do for them
        args: list[Arg] = []
        raw_names: list[str] = []
        while reader.remaining() and reader.data[reader.pos] not in _SEPARATORS:
            raw_name = reader.b_varchar()
            status = reader.u8()
            wire_type = read_type_info(reader)
            value = read_value(reader, wire_type)
            arg_name = raw_name[1:].lower() if raw_name.startswith("@") else None
            args.append(
                Arg(
                    arg_name or None,
                    value,
                    bool(status & FLAG_BY_REF),
                    wire_type.sql,
                    default=bool(status & FLAG_DEFAULT),
                )
            )
            raw_names.append(raw_name)
        calls.append(RpcCall(name, args, raw_names))
        if reader.remaining():
            reader.u8()  # the batch separator
    return calls


async def handle_rpc(session: SqlSession, payload: bytes) -> None:
    from .engine import BatchAborted

    out = session.out
    for call in parse_rpc(payload):
        try:
            result = await procedures.call(session, call.name, call.args)
        except BatchAborted:
            out.proc_done(tk.DONE_ERROR)
            return
        except SqlError as err:
            out.error(err)
            out.proc_done(tk.DONE_ERROR)
            if err.aborts_batch:
                return
            continue
        out.token(tk.returnstatus(result.status))
        for index, value in sorted(result.outputs.items()):
            arg = call.args[index]
            if arg.output and arg.type is not None:
                out.token(tk.returnvalue(index, call.raw_names[index], arg.type, value))
        out.proc_done()
