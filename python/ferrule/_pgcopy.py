"""COPY for PostgreSQL: records in binary format, raw data in and out, streamed both ways
with backpressure so any size runs in bounded memory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any, Union

from ferrule import _bridge
from ferrule._codecs import encode_with
from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from ferrule._ferrule import PgCopyIn
    from ferrule.pg_connection import PgConnection

Source = Union[str, "os.PathLike[str]", bytes, IO[bytes], AsyncIterable[bytes], Iterable[bytes]]
Output = Union[str, "os.PathLike[str]", IO[bytes], Callable[[bytes], Awaitable[Any]]]

RECORD_BATCH = 2000
CHUNK = 256 * 1024
_FORMATS = ("text", "csv", "binary")


def quote_ident(name: str) -> str:
    """An identifier for SQL text: double-quoted, inner quotes doubled (names, not values)."""
    if not name or "\0" in name:
        raise InterfaceError(f"invalid identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def table_ref(table: str, schema: str | None) -> str:
    return (quote_ident(schema) + "." if schema else "") + quote_ident(table)


def copy_options(format: str | None, header: bool | None) -> str:
    """COPY options from fixed keywords only: no caller text reaches the statement."""
    opts = []
    if format is not None:
        if format not in _FORMATS:
            raise InterfaceError(f"format must be one of {', '.join(_FORMATS)}, not {format!r}")
        opts.append(f"FORMAT {format}")
    if header is not None:
        opts.append(f"HEADER {'true' if header else 'false'}")
    return f" ({', '.join(opts)})" if opts else ""


async def _batches(records: AsyncIterable[Any]) -> Any:
    batch: list[Any] = []
    async for rec in records:
        batch.append(rec)
        if len(batch) >= RECORD_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _chunks(source: Source) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        f = await asyncio.to_thread(open, source, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
        finally:
            f.close()
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK):
            yield chunk
    elif hasattr(source, "__aiter__"):
        async for chunk in source:
            yield bytes(chunk)
    else:
        for chunk in source:
            yield bytes(chunk)


async def _stream_in(conn: PgConnection, copy: PgCopyIn, feed: Any, binary: bool) -> str:
    bridge = conn._bridge
    try:
        await feed
    except BaseException as e:
        await asyncio.shield(_bridge.wait(bridge, copy.abort(f"aborted by the client: {e!r}")))
        raise
    status: str = await _bridge.wait(bridge, copy.finish(binary, conn._command_timeout))
    return status


async def _write_all(conn: PgConnection, copy: PgCopyIn, records: Any, number_from: int) -> int:
    """Feeds a list, tuple or iterator to the native encoder batch by batch; returns the count."""
    bridge = conn._bridge
    start, done = 0, False
    while not done:
        start, done, waiter = copy.write_records(records, start, number_from)
        if waiter is not None:
            await _bridge.wait(bridge, waiter)
        else:
            # The batch is queued: let the loop serve other tasks before the next one.
            await asyncio.sleep(0)
    return start


def _with_encoders(conn: PgConnection, oids: Sequence[int], records: Any) -> Any:
    """Records passed through the user encoders of their column types, if any applies."""
    encoders = conn._encoders
    if not any(oid in encoders for oid in oids):
        return records
    if hasattr(records, "__aiter__"):

        async def encoded() -> Any:
            async for rec in records:
                yield encode_with(encoders, oids, rec)

        return encoded()
    return (encode_with(encoders, oids, rec) for rec in records)


async def copy_records_to_table(
    conn: PgConnection,
    table_name: str,
    records: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
    columns: Sequence[str] | None,
    schema_name: str | None,
    timeout: float | None,
) -> str:
    bridge = conn._bridge
    target = table_ref(table_name, schema_name)
    cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    # The column types come from the server: the statement is parsed, never executed.
    probe = await _bridge.wait(bridge, conn._impl.prepare(f"SELECT {cols} FROM {target}", timeout))
    oids = [oid for _, oid in probe.columns]
    names = ", ".join(quote_ident(name) for name, _ in probe.columns)
    sql = f"COPY {target} ({names}) FROM STDIN (FORMAT binary)"
    source = _with_encoders(conn, oids, records)
    copy = await _bridge.wait(bridge, conn._impl.copy_in(sql, (), timeout))

    async def feed() -> None:
        copy.use_columns(probe)
        if isinstance(source, (list, tuple)):
            await _write_all(conn, copy, source, 0)
        elif not hasattr(source, "__aiter__"):
            await _write_all(conn, copy, iter(source), 0)
        else:
            sent = 0
            async for batch in _batches(source):
                sent += await _write_all(conn, copy, batch, sent)

    return await _stream_in(conn, copy, feed(), True)


async def copy_to_table(
    conn: PgConnection,
    table_name: str,
    source: Source,
    columns: Sequence[str] | None,
    schema_name: str | None,
    format: str | None,
    header: bool | None,
    timeout: float | None,
) -> str:
    bridge = conn._bridge
    cols = " (" + ", ".join(quote_ident(c) for c in columns) + ")" if columns else ""
    sql = (
        f"COPY {table_ref(table_name, schema_name)}{cols} FROM STDIN{copy_options(format, header)}"
    )
    copy = await _bridge.wait(bridge, conn._impl.copy_in(sql, (), timeout))

    async def feed() -> None:
        async for chunk in _chunks(source):
            await _bridge.wait(bridge, copy.send(chunk))

    return await _stream_in(conn, copy, feed(), False)


async def copy_out(
    conn: PgConnection, sql: str, args: Sequence[Any], output: Output, timeout: float | None
) -> str:
    bridge = conn._bridge
    copy = await _bridge.wait(bridge, conn._impl.copy_out(sql, args, timeout))
    close: Callable[[], Any] | None = None
    if isinstance(output, (str, os.PathLike)):
        f = await asyncio.to_thread(open, output, "wb")
        close = f.close

        async def write(data: bytes) -> None:
            await asyncio.to_thread(f.write, data)

    elif hasattr(output, "write"):
        sink = output

        async def write(data: bytes) -> None:
            sink.write(data)

    elif callable(output):
        write = output  # type: ignore[assignment]
    else:
        raise InterfaceError("output must be a path, a binary file or an async callable")
    try:
        while (chunk := await _bridge.wait(bridge, copy.next())) is not None:
            await write(chunk)
        status: str = await _bridge.wait(bridge, copy.finish(timeout))
        return status
    except BaseException:
        # The rest of the data is read and dropped in the background, so the connection
        # leaves copy mode whatever happened to the output.
        drain = asyncio.ensure_future(_bridge.wait(bridge, copy.finish(None)))
        drain.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise
    finally:
        if close is not None:
            close()
