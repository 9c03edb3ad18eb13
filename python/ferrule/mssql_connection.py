"""`MssqlConnection`: the SQL Server connection and its `connect`.

Placeholders are ``@p1, @p2, ...`` for positional arguments, or ``@name`` with one dict of
arguments. Values always travel as typed RPC parameters of ``sp_executesql``: never as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ferrule import _bridge, _mssqldsn
from ferrule._ferrule import tds_connect
from ferrule.connection import Connection
from ferrule.exceptions import InterfaceError, NotSupportedError

if TYPE_CHECKING:
    from ferrule._ferrule import Record, TdsConn

_ISOLATION = {
    "read_uncommitted": "READ UNCOMMITTED",
    "read_committed": "READ COMMITTED",
    "repeatable_read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}

ALL_RESULT_SETS = 5


@dataclass(frozen=True)
class Output:
    """An OUTPUT parameter of :meth:`MssqlConnection.callproc`: its SQL Server type
    (``"int"``, ``"nvarchar(100)"``, ``"decimal(18,2)"``...) and an optional input value."""

    type: str
    value: Any = None


@dataclass
class ProcResult:
    """What a stored procedure returned."""

    return_status: int | None
    #: OUTPUT parameters by name (without the ``@``).
    output: dict[str, Any] = field(default_factory=dict)
    result_sets: list[list[Record]] = field(default_factory=list)


class MssqlConnection(Connection):
    """A SQL Server connection (TDS 7.4, or 8.0 with ``encrypt=strict``)."""

    __slots__ = ()

    _impl: TdsConn

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a command and return its status (``"UPDATE 3"``, ``"INSERT 0 1"``).

        Without arguments the text is a batch and may hold several statements; with
        arguments it runs through ``sp_executesql`` with the values bound.
        """
        if not args and not query.strip():
            return ""
        return await super().execute(query, *args, timeout=timeout)

    async def fetch_result_sets(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> list[list[Record]]:
        """Run ``query`` and return every result set it produced, in order."""
        fut = self._impl.query(query, args, ALL_RESULT_SETS, 0, self._timeout(timeout))
        result: list[list[Record]] = await _bridge.wait(self._bridge, fut)
        return result

    async def callproc(
        self, name: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> ProcResult:
        """Call the stored procedure ``name`` with positional ``args`` and named ``kwargs``.

        Pass :class:`Output` for an OUTPUT parameter (by name:
        ``callproc("dbo.p", 1, total=Output("int"))``). Returns the return status, the
        outputs by name and every result set.
        """
        params: list[tuple[str | None, Any, bool, str | None]] = []
        for i, value in enumerate(args):
            if isinstance(value, Output):
                raise InterfaceError(
                    f"argument {i + 1}: pass an Output parameter by name (name=Output(...))"
                )
            params.append((None, value, False, None))
        for key, value in kwargs.items():
            if isinstance(value, Output):
                params.append((key, value.value, True, value.type))
            else:
                params.append((key, value, False, None))
        fut = self._impl.callproc(name, params, self._timeout(timeout))
        status, output, sets = await _bridge.wait(self._bridge, fut)
        return ProcResult(status, output, sets)

    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: Iterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Bulk-load ``records`` into ``table_name`` (TDS BULK LOAD); returns ``"COPY n"``.

        ``columns`` names the target columns in the order of the record values (all
        columns, in table order, when omitted).
        """
        table = f"{schema_name}.{table_name}" if schema_name else table_name
        cols = list(columns) if columns is not None else None
        fut = self._impl.copy_records_to_table(table, records, cols, self._timeout(timeout))
        count: int = await _bridge.wait(self._bridge, fut)
        return f"COPY {count}"

    def get_server_version(self) -> tuple[int, ...]:
        """The server version from PRELOGIN, e.g. ``(16, 0, 1000)``."""
        return tuple(self._impl.server_version())

    def get_database(self) -> str:
        """The current database (follows ``USE``)."""
        return self._impl.database()

    def is_encrypted(self) -> bool:
        """True when the whole session runs over TLS."""
        return self._impl.is_encrypted()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed() else self._impl.transaction_status()
        return f"<ferrule.MssqlConnection {state}>"

    # The isolation level is a session setting in SQL Server: it stays after the transaction
    # (a pooled connection is reset before reuse).
    def _sql_begin(self, isolation: str | None, readonly: bool, deferrable: bool) -> str:
        if readonly or deferrable:
            raise NotSupportedError("SQL Server transactions have no readonly or deferrable mode")
        if isolation:
            return f"SET TRANSACTION ISOLATION LEVEL {_ISOLATION[isolation]}; BEGIN TRANSACTION"
        return "BEGIN TRANSACTION"

    def _sql_savepoint(self, name: str) -> str:
        return f"SAVE TRANSACTION {name}"

    def _sql_release(self, name: str) -> str:
        # SQL Server keeps savepoints until the transaction ends; nothing to release.
        return ""

    def _sql_rollback_to(self, name: str) -> str:
        return f"ROLLBACK TRANSACTION {name}"


def connect_settings(
    dsn: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    encrypt: str | bool | None = None,
    trust_server_certificate: bool | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The native settings dict for :func:`connect`'s arguments (also used by the pool)."""
    return _mssqldsn.build_settings(
        dsn,
        {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": database,
            "encrypt": encrypt,
            "trust_server_certificate": trust_server_certificate,
            "connect_timeout": timeout,
            "command_timeout": command_timeout,
            **kwargs,
        },
    )


async def connect(
    dsn: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    encrypt: str | bool | None = None,
    trust_server_certificate: bool | None = None,
    timeout: float | None = None,
    command_timeout: float | None = None,
    **kwargs: Any,
) -> MssqlConnection:
    """Open a SQL Server connection.

    ``dsn`` is ``mssql://user:pw@host:1433/db?encrypt=strict`` or the ADO.NET form
    ``Server=host,1433;Database=db;UID=sa;PWD=pw;Encrypt=yes;TrustServerCertificate=no;``
    (``Server=host\\INSTANCE`` asks the SQL Browser for the port). Keyword arguments override
    it. ``encrypt``: ``strict`` (TDS 8.0), ``yes`` (the default), ``no`` (the server decides;
    the login is still encrypted when it can be) or ``disable`` (plaintext, test servers
    only). Other keywords: ``instance``, ``application_name``, ``application_intent``
    (``ReadOnly``), ``ca_file``, ``host_name_in_certificate``, ``access_token`` (Azure AD),
    ``packet_size``, ``cancel_timeout`` (seconds to wait for a cancellation to be
    acknowledged before the connection is closed, default 2).
    """
    settings = connect_settings(
        dsn,
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        encrypt=encrypt,
        trust_server_certificate=trust_server_certificate,
        timeout=timeout,
        command_timeout=command_timeout,
        **kwargs,
    )
    bridge = _bridge.get_bridge()
    impl = await _bridge.wait(bridge, tds_connect(bridge, settings))
    return MssqlConnection(impl, bridge, settings, settings["command_timeout"])


__all__ = ["MssqlConnection", "Output", "ProcResult", "connect", "connect_settings"]
