"""The PEP 249 exception hierarchy and the attributes every ferrule error carries."""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
]

#: Every PostgreSQL SQLSTATE declared by a class (``class X(Error, code="23505")``).
SQLSTATE_CLASSES: dict[str, type[Error]] = {}

_SQLSTATE_RE = re.compile(r"[0-9A-Z]{5}\Z")

#: The server fields kept as attributes (None when the server did not send them).
SERVER_FIELDS: tuple[str, ...] = (
    "severity",
    "severity_nonlocalized",
    "detail",
    "hint",
    "position",
    "internal_position",
    "internal_query",
    "where",
    "schema_name",
    "table_name",
    "column_name",
    "data_type_name",
    "constraint_name",
    "file",
    "line",
    "routine",
    "number",
    "state",
    "class_",
    "server",
    "procedure",
)


class Warning(Exception):
    """Important warnings such as data truncation (PEP 249)."""


class Error(Exception):
    """Base of every error ferrule raises (PEP 249).

    ``code`` is the backend's native code as text (a SQLSTATE such as ``"23505"``, a SQL Server
    error number such as ``"2627"``, ``"SQLITE_CONSTRAINT_UNIQUE"``, a Tarantool error number),
    ``message`` the primary message and ``backend`` one of ``"postgresql"``, ``"mssql"``,
    ``"sqlite"``, ``"tarantool"`` (None for errors raised before any backend is involved).
    PostgreSQL's error fields are attributes too, None when the server did not send them;
    SQL Server's are ``number``, ``state``, ``class_`` (its severity class, also in
    ``severity``), ``server``, ``procedure`` and ``line``.

    Errors hold plain data only (never a connection), so they pickle and can cross processes.
    """

    #: The PostgreSQL SQLSTATE this class was declared for, or None.
    pg_sqlstate: ClassVar[str | None] = None

    code: str | None
    message: str
    backend: str | None
    severity: str | None
    severity_nonlocalized: str | None
    detail: str | None
    hint: str | None
    position: int | None
    internal_position: int | None
    internal_query: str | None
    where: str | None
    schema_name: str | None
    table_name: str | None
    column_name: str | None
    data_type_name: str | None
    constraint_name: str | None
    file: str | None
    line: str | None
    routine: str | None
    number: int | None
    state: int | None
    class_: int | None
    server: str | None
    procedure: str | None

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is None:
            return
        if not _SQLSTATE_RE.match(code):
            raise ValueError(
                f"{cls.__qualname__}: code={code!r} is not a SQLSTATE "
                "(five characters, digits and upper-case letters)"
            )
        taken = SQLSTATE_CLASSES.get(code)
        if taken is not None:
            raise TypeError(
                f"{cls.__qualname__}: SQLSTATE {code} is already declared by {taken.__qualname__}"
            )
        cls.pg_sqlstate = code
        SQLSTATE_CLASSES[code] = cls

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        backend: str | None = None,
        severity: str | None = None,
        severity_nonlocalized: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        internal_position: int | None = None,
        internal_query: str | None = None,
        where: str | None = None,
        schema_name: str | None = None,
        table_name: str | None = None,
        column_name: str | None = None,
        data_type_name: str | None = None,
        constraint_name: str | None = None,
        file: str | None = None,
        line: str | None = None,
        routine: str | None = None,
        number: int | None = None,
        state: int | None = None,
        class_: int | None = None,
        server: str | None = None,
        procedure: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.backend = backend
        self.severity = severity
        self.severity_nonlocalized = severity_nonlocalized
        self.detail = detail
        self.hint = hint
        self.position = position
        self.internal_position = internal_position
        self.internal_query = internal_query
        self.where = where
        self.schema_name = schema_name
        self.table_name = table_name
        self.column_name = column_name
        self.data_type_name = data_type_name
        self.constraint_name = constraint_name
        self.file = file
        self.line = line
        self.routine = routine
        self.number = number
        self.state = state
        self.class_ = class_
        self.server = server
        self.procedure = procedure

    @property
    def sqlstate(self) -> str | None:
        """The SQLSTATE of a PostgreSQL error (the same as ``code``); None for other backends."""
        return self.code if self.backend == "postgresql" else None

    def __str__(self) -> str:
        # The layout psql uses, so a logged error reads the same as in a terminal.
        text = self.message
        if self.detail is not None:
            text += f"\nDETAIL:  {self.detail}"
        if self.hint is not None:
            text += f"\nHINT:  {self.hint}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Return ``code``, ``message``, ``backend`` and every server field that is set."""
        result: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.backend is not None:
            result["backend"] = self.backend
        for name in SERVER_FIELDS:
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        return result


class InterfaceError(Error):
    """An error of the driver itself or of how it was used, not of the database (PEP 249)."""


class DatabaseError(Error):
    """An error reported by, or related to, the database (PEP 249)."""


class DataError(DatabaseError):
    """A problem with the processed data: division by zero, value out of range (PEP 249)."""


class OperationalError(DatabaseError):
    """An error of the database's operation, not necessarily the caller's fault (PEP 249)."""


class IntegrityError(DatabaseError):
    """The relational integrity of the database is affected: a constraint failed (PEP 249)."""


class InternalError(DatabaseError):
    """The database hit an internal error: invalid cursor or transaction state (PEP 249)."""


class ProgrammingError(DatabaseError):
    """A programming error: missing table, SQL syntax error, wrong arguments (PEP 249)."""


class NotSupportedError(DatabaseError):
    """A method or database API the database does not support (PEP 249)."""
