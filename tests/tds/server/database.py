"""The databases a server holds: one SQLite file each (WAL, so readers never wait on a
writer), shared by every session that uses it, plus what SQLite cannot keep for us."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import apsw

from .types import SqlType, parse_type

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IDENTITIES = "tds_catalog_identities"
_PROCEDURES = "tds_catalog_procedures"


@dataclass
class Procedure:
    """A CREATE PROCEDURE: its parameters and its body, kept as text."""

    name: str
    parameters: list[tuple[str, SqlType, bool, str | None]]  # name, type, output, default
    body: str


@dataclass
class Database:
    name: str
    path: str
    procedures: dict[str, Procedure] = field(default_factory=dict)
    # (table, column) -> declared type of IDENTITY columns (SQLite sees INTEGER PRIMARY KEY).
    identities: dict[tuple[str, str], SqlType] = field(default_factory=dict)

    def connect(self) -> apsw.Connection:
        conn = apsw.Connection(self.path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = OFF")
        return conn

    # What SQLite cannot hold for us is kept in two tables of the database itself, so that
    # it survives a restart of the server with the same data directory.

    def load_catalog(self, conn: apsw.Connection) -> None:
        from .lexer import tokenize
        from .procedures import parse_procedure

        conn.execute(f"CREATE TABLE IF NOT EXISTS {_IDENTITIES} (tbl TEXT, col TEXT, decl TEXT, "
                     "PRIMARY KEY (tbl, col))")  # fmt: skip
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_PROCEDURES} (name TEXT PRIMARY KEY, "
                     "definition TEXT)")  # fmt: skip
        for table, column, declaration in list(conn.execute(f"SELECT * FROM {_IDENTITIES}")):
            self.identities[(table, column)] = parse_type(declaration)
        for name, definition in list(conn.execute(f"SELECT * FROM {_PROCEDURES}")):
            self.procedures[name] = parse_procedure(tokenize(definition))[0]

    def save_identity(self, conn: apsw.Connection, table: str, column: str, t: SqlType) -> None:
        self.identities[(table.lower(), column.lower())] = t
        conn.execute(f"INSERT OR REPLACE INTO {_IDENTITIES} VALUES (?, ?, ?)",
                     (table.lower(), column.lower(), t.declaration()))  # fmt: skip

    def save_procedure(self, conn: apsw.Connection, name: str, definition: str) -> None:
        conn.execute(f"INSERT OR REPLACE INTO {_PROCEDURES} VALUES (?, ?)", (name, definition))

    def forget_procedure(self, conn: apsw.Connection, name: str) -> None:
        conn.execute(f"DELETE FROM {_PROCEDURES} WHERE name = ?", (name,))

    def unique_indexes(self, conn: apsw.Connection) -> dict[tuple[str, str], str]:
        """(table, "col1,col2") -> index name, for every CREATE UNIQUE INDEX."""
        found: dict[tuple[str, str], str] = {}
        for schema in ("main", "temp"):
            query = (
                f"SELECT name, tbl_name FROM {schema}.sqlite_master WHERE type = 'index' "
                "AND sql LIKE 'CREATE UNIQUE%'"
            )
            for index, table in list(conn.execute(query)):
                columns = [r[2] for r in conn.execute(f'PRAGMA {schema}.index_info("{index}")')]
                found[(table.lower(), ",".join(columns).lower())] = index
        return found


class Databases:
    """The databases by (case-insensitive) name; files live in `directory`."""

    def __init__(self, directory: str, names: list[str]) -> None:
        self.directory = directory
        self._by_name: dict[str, Database] = {}
        # Databases made by CREATE DATABASE before a restart come back too.
        found = [f[: -len(".sqlite3")] for f in os.listdir(directory) if f.endswith(".sqlite3")]
        for name in [*names, *sorted(found)]:
            if name.lower() not in self._by_name:
                self.create(name)

    def get(self, name: str) -> Database | None:
        return self._by_name.get(name.lower())

    def create(self, name: str) -> Database:
        if not _NAME.match(name):
            raise ValueError(f"invalid database name {name!r}")
        key = name.lower()
        if key in self._by_name:
            raise KeyError(name)
        database = Database(name, os.path.join(self.directory, f"{key}.sqlite3"))
        conn = database.connect()
        conn.execute("PRAGMA journal_mode = WAL")
        database.load_catalog(conn)
        conn.close()
        self._by_name[key] = database
        return database

    def names(self) -> list[str]:
        return [db.name for db in self._by_name.values()]
