"""ferrule: fast async database drivers on one Rust core, with one asyncpg-style API."""

from __future__ import annotations

from ferrule import exceptions
from ferrule._ferrule import Record, __version__, set_error_factory
from ferrule.connection import Connection, connect
from ferrule.cursor import Cursor, CursorFactory
from ferrule.exceptions import *  # noqa: F403
from ferrule.exceptions import _make_error
from ferrule.libsql_connection import LibsqlConnection
from ferrule.mssql_connection import MssqlConnection, Output, ProcResult
from ferrule.mssql_pool import MssqlPoolConnection
from ferrule.pg_connection import PgConnection
from ferrule.pg_pool import PgPoolConnection
from ferrule.pg_types import Box, Circle, Line, LineSegment, Path, Point, Polygon, Range
from ferrule.pool import Pool, PoolConnection, PoolStats, create_pool
from ferrule.prepared_stmt import PreparedStatement
from ferrule.sqlite_connection import SqliteConnection
from ferrule.sqlite_pool import SqlitePool
from ferrule.tarantool_connection import TarantoolConnection
from ferrule.tarantool_pool import TarantoolPoolConnection
from ferrule.transaction import Transaction

set_error_factory(_make_error)

__all__ = [
    "__version__",
    "connect",
    "create_pool",
    "Connection",
    "PgConnection",
    "MssqlConnection",
    "MssqlPoolConnection",
    "Output",
    "ProcResult",
    "PgPoolConnection",
    "Pool",
    "PoolConnection",
    "PoolStats",
    "TarantoolConnection",
    "TarantoolPoolConnection",
    "LibsqlConnection",
    "SqliteConnection",
    "SqlitePool",
    "Box",
    "Circle",
    "Line",
    "LineSegment",
    "Path",
    "Point",
    "Polygon",
    "Range",
    "Cursor",
    "CursorFactory",
    "PreparedStatement",
    "Record",
    "Transaction",
    "exceptions",
    *exceptions.__all__,
]
