"""One client connection: PRELOGIN, TLS, LOGIN7, then requests, with ATTENTION honoured.

A reader task reads messages all the time, so an ATTENTION that arrives while a request runs
cancels it at once; the request's task then answers with DONE and the attention flag.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from . import bulk, login7, prelogin, rpc, transactions
from . import tokens as tk
from .engine import SqlSession
from .errors import SqlError, login_failed
from .packets import (
    ATTENTION,
    BULK_LOAD,
    DEFAULT_PACKET_SIZE,
    LOGIN7,
    MAX_PACKET_SIZE,
    MIN_PACKET_SIZE,
    PRELOGIN,
    RPC,
    SQL_BATCH,
    STATUS_IGNORE,
    TABULAR_RESULT,
    TRANSACTION_MANAGER,
    Message,
    ResponseWriter,
    read_message,
    split_packets,
)
from .prelogin import TlsScope
from .responder import Responder
from .rpc import skip_all_headers
from .streams import ConnectionClosed, PlainStream, TlsStream
from .sysviews import SessionInfo
from .types import COLLATION
from .wire import ProtocolError, Reader

if TYPE_CHECKING:
    from .packets import ByteStream
    from .server import ServerState

log = logging.getLogger("tds.server")
_spids = itertools.count(51)
_ATTENTION_MARK = Message(ATTENTION, 0, b"")
TLS_RECORD_HANDSHAKE = 0x16


class TdsConnection:
    def __init__(
        self, state: ServerState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.state = state
        self.raw = PlainStream(reader, writer)
        self.writer = writer
        self.stream: ByteStream = self.raw
        self.packet_size = DEFAULT_PACKET_SIZE
        self.spid = next(_spids)
        self.session: SqlSession | None = None
        self.attention = False
        self.busy = False
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()

    async def run(self) -> None:
        try:
            if await self.handshake():
                await self.serve()
        except (ConnectionClosed, ConnectionError, asyncio.IncompleteReadError):
            pass
        except ProtocolError as exc:
            log.warning("spid %d: protocol error: %s", self.spid, exc)
        finally:
            self.state.sessions.pop(self.spid, None)
            if self.session is not None:
                self.session.rollback_silently()
                self.session.close()
            self.writer.close()

    def kill(self) -> None:
        """Cut the connection now (KILL from another session)."""
        self.writer.transport.abort()

    # -- handshake -----------------------------------------------------------------------------

    async def handshake(self) -> bool:
        first = await self.raw.read_exactly(1)
        self.raw.push_back(first)
        if first[0] == TLS_RECORD_HANDSHAKE:
            context = self.state.strict_tls_context
            if context is None:
                return False
            tls = TlsStream(self.raw, context)
            await tls.handshake_direct()
            self.stream = tls
            message = await read_message(tls)
            if message.type != PRELOGIN:
                raise ProtocolError(f"expected PRELOGIN, got 0x{message.type:02x}")
            request = prelogin.parse_prelogin(message.payload)
            answer = prelogin.build_prelogin_response(request.encryption, request)
            await tls.write(split_packets(TABULAR_RESULT, answer, DEFAULT_PACKET_SIZE))
            return await self.login(tls)
        message = await read_message(self.raw)
        if message.type != PRELOGIN:
            raise ProtocolError(f"expected PRELOGIN, got packet type 0x{message.type:02x}")
        request = prelogin.parse_prelogin(message.payload)
        answer, scope, hang_up = prelogin.negotiate(request.encryption, self.state.encryption)
        response = prelogin.build_prelogin_response(answer, request)
        await self.raw.write(split_packets(TABULAR_RESULT, response, DEFAULT_PACKET_SIZE))
        if hang_up:
            return False
        if scope is TlsScope.NONE:
            return await self.login(self.raw)
        assert self.state.tls_context is not None
        tls = TlsStream(self.raw, self.state.tls_context)
        await tls.handshake_in_prelogin()
        self.stream = tls if scope is TlsScope.FULL else self.raw
        return await self.login(tls)

    async def login(self, stream: ByteStream) -> bool:
        message = await read_message(stream)
        if message.type != LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got packet type 0x{message.type:02x}")
        login = login7.parse_login7(message.payload)
        if isinstance(stream, TlsStream) and stream is not self.stream and stream.leftover():
            raise ProtocolError("data after LOGIN7 inside login-only TLS")
        writer = ResponseWriter(self.stream, DEFAULT_PACKET_SIZE, self.spid)
        user, error = self.authenticate(login)
        database = self.state.databases.get(login.database or self.state.default_database)
        if error is None and database is None:
            error = SqlError(
                4060,
                f'Cannot open database "{login.database}" requested by the '
                "login. The login failed.",
                severity=11,
            )
        if error is not None or database is None:
            assert error is not None
            writer.add(tk.error(error.number, error.state, error.severity, error.message))
            if error.number == 4060:
                # SQL Server follows the database error with the login failure itself.
                failed = login_failed(user)
                writer.add(tk.error(failed.number, failed.state, failed.severity, failed.message))
            writer.add(tk.done(tk.DONE, tk.DONE_ERROR))
            await writer.finish()
            return False
        if login.packet_size:
            self.packet_size = min(max(login.packet_size, MIN_PACKET_SIZE), MAX_PACKET_SIZE)
        self.session = SqlSession(self.state, database, user, self.spid)
        self.state.sessions[self.spid] = SessionInfo(
            self.spid, user, login.hostname, login.app_name,
            encrypted=isinstance(self.stream, TlsStream), kill=self.kill,
        )  # fmt: skip
        writer.add(tk.envchange_text(tk.ENV_DATABASE, database.name, "master"))
        writer.add(tk.info(5701, 2, 0, f"Changed database context to '{database.name}'."))
        writer.add(tk.envchange_bytes(tk.ENV_COLLATION, COLLATION, b""))
        writer.add(tk.envchange_text(tk.ENV_LANGUAGE, "us_english", ""))
        writer.add(tk.info(5703, 1, 0, "Changed language setting to us_english."))
        version = (
            login.tds_version if login.tds_version in login7.SUPPORTED_VERSIONS else (login7.TDS74)
        )
        writer.add(tk.loginack(version))
        if login.features:
            acks = {}
            if login7.FEATURE_FEDAUTH in login.features:
                acks[login7.FEATURE_FEDAUTH] = b""
            writer.add(tk.featureextack(acks))
        packet = str(self.packet_size)
        writer.add(tk.envchange_text(tk.ENV_PACKET_SIZE, packet, str(DEFAULT_PACKET_SIZE)))
        writer.add(tk.done(tk.DONE, tk.DONE_FINAL))
        await writer.finish()
        return True

    def authenticate(self, login: login7.Login7) -> tuple[str, SqlError | None]:
        token = login.fedauth_token()
        if token is not None:
            user = self.state.access_tokens.get(token)
            if user is None:
                return "", SqlError(
                    18456,
                    "Login failed for user '<token-identified principal>'.",
                    severity=14,
                    state=1,
                )
            return user, None
        if login.has_sspi:
            return "", SqlError(
                18452,
                "Login failed. The login is from an untrusted domain and "
                "cannot be used with Integrated authentication.",
                severity=14,
            )
        expected = self.state.users.get(login.username)
        if expected is None or expected != login.password:
            return login.username, login_failed(login.username)
        return login.username, None

    # -- requests -------------------------------------------------------------------------------

    async def serve(self) -> None:
        reader = asyncio.create_task(self.read_loop())
        try:
            while True:
                message = await self.queue.get()
                if message is None:
                    return
                if message.status & STATUS_IGNORE and message is not _ATTENTION_MARK:
                    continue  # the client abandoned this message: no answer (MS-TDS 2.2.3.1.2)
                if message is _ATTENTION_MARK:
                    if self.attention:
                        self.attention = False
                        await self._send_attention_ack()
                    continue
                await self.handle(message)
        finally:
            reader.cancel()
            if self.task is not None:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

    async def read_loop(self) -> None:
        try:
            while True:
                message = await read_message(self.stream)
                if message.type == ATTENTION:
                    self.attention = True
                    if self.busy:
                        if self.task is not None and not self.task.done():
                            self.task.cancel()
                    elif self.queue.empty():
                        self.queue.put_nowait(_ATTENTION_MARK)
                    # Otherwise the request it cancels still waits in the queue: handle()
                    # sees the flag and answers with the acknowledgement alone.
                else:
                    self.queue.put_nowait(message)
        except (ConnectionClosed, ConnectionError, ProtocolError, asyncio.IncompleteReadError) as e:
            if isinstance(e, ProtocolError):
                log.warning("spid %d: protocol error: %s", self.spid, e)
            # The client is gone: stop its running request too (SQL Server does).
            self.closed = True
            if self.task is not None and not self.task.done():
                self.task.cancel()
            self.queue.put_nowait(None)

    async def _send_attention_ack(self) -> None:
        writer = ResponseWriter(self.stream, self.packet_size, self.spid)
        writer.add(tk.done(tk.DONE, tk.DONE_ATTN))
        await writer.finish()

    async def handle(self, message: Message) -> None:
        session = self.session
        assert session is not None
        writer = ResponseWriter(self.stream, self.packet_size, self.spid)
        responder = Responder(writer, session.in_transaction)
        session.begin_request(responder)
        self.busy = True
        try:
            if message.reset_connection:
                responder.token(tk.envchange_bytes(tk.ENV_RESET_ACK, b"", b""))
                session.reset(keep_transaction=message.keeps_transaction)
            if not self.attention:
                self.task = asyncio.create_task(self.execute(message))
                await asyncio.wait([self.task])
            if self.task is not None and not self.task.cancelled() and self.task.exception():
                exc = self.task.exception()
                if isinstance(exc, ProtocolError):
                    raise exc
                log.exception("spid %d: internal error", self.spid, exc_info=exc)
                responder.error(
                    SqlError(50000, f"test server internal error: {exc!r}", severity=16)
                )
            if self.closed:
                raise ConnectionClosed("client gone during the request")
            acknowledged = self.attention
            self.attention = False
            final = tk.DONEPROC if message.type == RPC else tk.DONE
            await responder.finish(attention=acknowledged, final_kind=final)
            if self.attention:
                self.attention = False
                await self._send_attention_ack()
        finally:
            self.task = None
            self.busy = False
            info = self.state.sessions.get(self.spid)
            if info is not None:
                info.command = ""

    async def execute(self, message: Message) -> None:
        session = self.session
        assert session is not None
        if message.type == SQL_BATCH:
            reader = Reader(message.payload)
            skip_all_headers(reader)
            text = message.payload[reader.pos :].decode("utf-16-le", errors="replace")
            await session.run_batch(text)
        elif message.type == RPC:
            await rpc.handle_rpc(session, message.payload)
        elif message.type == TRANSACTION_MANAGER:
            await self.transaction_request(session, message.payload)
        elif message.type == BULK_LOAD:
            try:
                await bulk.load(session, message.payload)
            except SqlError as err:
                session.out.error(err)
                session.out.statement_done(tk.CMD_INSERT, None, error=True)
        else:
            raise ProtocolError(f"unexpected packet type 0x{message.type:02x} after login")

    async def transaction_request(self, session: SqlSession, payload: bytes) -> None:
        reader = Reader(payload)
        skip_all_headers(reader)
        request = reader.u16()
        try:
            if request == 5:  # TM_BEGIN_XACT
                self._isolation(session, reader.u8())
                reader.b_varchar()
                session.begin_tran()
            elif request in (7, 8):  # TM_COMMIT_XACT, TM_ROLLBACK_XACT
                name = reader.b_varchar() if reader.remaining() else ""
                flags = reader.u8() if reader.remaining() else 0
                if request == 7:
                    while session.trancount > 1:
                        session.commit_tran()
                    session.commit_tran()
                else:
                    session.rollback_tran(name or None)
                if flags & 0x01:  # fBeginXact: start the next transaction at once
                    self._isolation(session, reader.u8())
                    reader.b_varchar()
                    session.begin_tran()
            elif request == 9:  # TM_SAVE_XACT
                session.save_tran(reader.b_varchar())
            else:
                raise SqlError(
                    40517,
                    f"transaction manager request {request} is not supported by the test server",
                )
        except SqlError as err:
            session.out.error(err)
            session.out.statement_done(tk.CMD_OTHER, None, error=True)
            return
        session.out.statement_done(tk.CMD_OTHER, None)

    @staticmethod
    def _isolation(session: SqlSession, level: int) -> None:
        if level in transactions.ISOLATION_LEVELS:
            session.isolation = transactions.ISOLATION_LEVELS[level]
