"""The native codes of SQL Server, SQLite and Tarantool that map to a specific class.

A backend can add more with ``register_backend_codes``; a code not listed gives
``DatabaseError``. PostgreSQL is not here: its SQLSTATE classes declare their own codes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._base import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from ._shared import (
    AuthenticationError,
    CheckViolationError,
    DeadlockDetectedError,
    ForeignKeyViolationError,
    NotNullViolationError,
    QueryCanceledError,
    SerializationError,
    UniqueViolationError,
)

# SQL Server error numbers (sys.messages). 547 is raised for CHECK conflicts too; the number
# alone cannot tell them apart.
MSSQL_CODES: Mapping[str, type[Error]] = {
    "2627": UniqueViolationError,  # violation of PRIMARY KEY / UNIQUE constraint
    "2601": UniqueViolationError,  # duplicate key row in a unique index
    "547": ForeignKeyViolationError,  # statement conflicted with a FOREIGN KEY constraint
    "515": NotNullViolationError,  # cannot insert NULL into a NOT NULL column
    "1205": DeadlockDetectedError,  # chosen as deadlock victim
    "3960": SerializationError,  # snapshot isolation update conflict
    "18456": AuthenticationError,  # login failed
    "18452": AuthenticationError,  # login from an untrusted domain
    "18488": AuthenticationError,  # password must be changed
    "102": ProgrammingError,  # incorrect syntax
    "156": ProgrammingError,  # incorrect syntax near a keyword
    "207": ProgrammingError,  # invalid column name
    "208": ProgrammingError,  # invalid object name
    "245": DataError,  # conversion failed
    "220": DataError,  # arithmetic overflow for a data type
    "8115": DataError,  # arithmetic overflow converting
    "8134": DataError,  # divide by zero
    "8152": DataError,  # string or binary data would be truncated
    "2628": DataError,  # string or binary data would be truncated (with column name)
    "1222": OperationalError,  # lock request time out
}

# SQLite result code names. Extended codes not listed fall back to their primary code
# (SQLITE_IOERR_READ -> SQLITE_IOERR). Primary codes follow the stdlib sqlite3 module.
SQLITE_CODES: Mapping[str, type[Error]] = {
    "SQLITE_CONSTRAINT_UNIQUE": UniqueViolationError,
    "SQLITE_CONSTRAINT_PRIMARYKEY": UniqueViolationError,
    "SQLITE_CONSTRAINT_FOREIGNKEY": ForeignKeyViolationError,
    "SQLITE_CONSTRAINT_NOTNULL": NotNullViolationError,
    "SQLITE_CONSTRAINT_CHECK": CheckViolationError,
    "SQLITE_CONSTRAINT": IntegrityError,
    "SQLITE_MISMATCH": IntegrityError,
    "SQLITE_TOOBIG": DataError,
    "SQLITE_INTERRUPT": QueryCanceledError,
    "SQLITE_AUTH": AuthenticationError,
    "SQLITE_ERROR": OperationalError,
    "SQLITE_PERM": OperationalError,
    "SQLITE_ABORT": OperationalError,
    "SQLITE_BUSY": OperationalError,
    "SQLITE_LOCKED": OperationalError,
    "SQLITE_NOMEM": OperationalError,
    "SQLITE_READONLY": OperationalError,
    "SQLITE_IOERR": OperationalError,
    "SQLITE_FULL": OperationalError,
    "SQLITE_CANTOPEN": OperationalError,
    "SQLITE_PROTOCOL": OperationalError,
    "SQLITE_EMPTY": OperationalError,
    "SQLITE_SCHEMA": OperationalError,
    "SQLITE_INTERNAL": InternalError,
    "SQLITE_NOTFOUND": InternalError,
    "SQLITE_CORRUPT": DatabaseError,
    "SQLITE_NOTADB": DatabaseError,
    "SQLITE_NOLFS": NotSupportedError,
    "SQLITE_MISUSE": InterfaceError,
    "SQLITE_RANGE": InterfaceError,
}

# Tarantool box error codes (box/errcode.h), as decimal text.
TARANTOOL_CODES: Mapping[str, type[Error]] = {
    "3": UniqueViolationError,  # ER_TUPLE_FOUND
    "33": ProgrammingError,  # ER_NO_SUCH_PROC
    "36": ProgrammingError,  # ER_NO_SUCH_SPACE
    "47": AuthenticationError,  # ER_CREDS_MISMATCH (ER_PASSWORD_MISMATCH before 2.x)
    "97": SerializationError,  # ER_TRANSACTION_CONFLICT
    "164": ForeignKeyViolationError,  # ER_FOREIGN_KEY_CONSTRAINT (deferred, at commit)
    "235": CheckViolationError,  # ER_FIELD_CONSTRAINT_FAILED
    "236": CheckViolationError,  # ER_TUPLE_CONSTRAINT_FAILED
    "239": ForeignKeyViolationError,  # ER_FIELD_FOREIGN_KEY_FAILED
    "240": ForeignKeyViolationError,  # ER_COMPLEX_FOREIGN_KEY_FAILED
    "256": AuthenticationError,  # ER_PASSWORD_EXPIRED
    "257": AuthenticationError,  # ER_AUTH_DELAY
}

DEFAULT_BACKEND_CODES: Mapping[str, Mapping[str, type[Error]]] = {
    "mssql": MSSQL_CODES,
    "sqlite": SQLITE_CODES,
    "tarantool": TARANTOOL_CODES,
}
