"""SQL Server errors raised while running a request, and SQLite errors mapped onto them."""

from __future__ import annotations

import re

import apsw


class SqlError(Exception):
    """An error SQL Server would report in an ERROR token.

    `aborts_batch` stops the rest of the batch (compile errors, THROW, deadlocks);
    otherwise only the statement fails and the batch goes on, as in SQL Server.
    """

    def __init__(
        self,
        number: int,
        message: str,
        *,
        severity: int = 16,
        state: int = 1,
        aborts_batch: bool = False,
        procedure: str = "",
        line: int = 1,
    ) -> None:
        super().__init__(message)
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state
        self.aborts_batch = aborts_batch
        self.procedure = procedure
        self.line = line


def deadlock_error(spid: int) -> SqlError:
    return SqlError(
        1205,
        f"Transaction (Process ID {spid}) was deadlocked on lock resources with another "
        "process and has been chosen as the deadlock victim. Rerun the transaction.",
        severity=13,
        state=51,
        aborts_batch=True,
    )


def lock_timeout_error() -> SqlError:
    return SqlError(1222, "Lock request time out period exceeded.", state=45)


def login_failed(user: str) -> SqlError:
    return SqlError(18456, f"Login failed for user '{user}'.", severity=14, state=1)


def syntax_error(message: str, number: int = 102) -> SqlError:
    return SqlError(number, message, severity=15, state=1, aborts_batch=True)


_NO_TABLE = re.compile(r"no such table: (?:\w+\.)?(.+)")
_NO_COLUMN = re.compile(r"no such column: (.+)")
_EXISTS = re.compile(r"(?:table|index|view) \"?([^\" ]+)\"? already exists")
_NEAR = re.compile(r'near "([^"]*)": syntax error')
_CONSTRAINT_COLUMNS = re.compile(r"constraint failed: (.+)")

SQLITE_CONSTRAINT_CHECK = 275
SQLITE_CONSTRAINT_FOREIGNKEY = 787
SQLITE_CONSTRAINT_NOTNULL = 1299
SQLITE_CONSTRAINT_PRIMARYKEY = 1555
SQLITE_CONSTRAINT_UNIQUE = 2067


def _verb(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "INSERT"
    return word if word in ("INSERT", "UPDATE", "DELETE") else "INSERT"


def from_sqlite(
    exc: apsw.Error, sql: str, database: str, unique_indexes: dict[tuple[str, str], str]
) -> SqlError:
    """The SQL Server error a statement would have raised where SQLite raised `exc`.

    `unique_indexes` maps (table, "col1,col2") to the name of a CREATE UNIQUE INDEX, which
    SQL Server reports as 2601 where a PRIMARY KEY or UNIQUE constraint is 2627.
    """
    text = str(exc).split(": ", 1)[1] if str(exc).startswith(type(exc).__name__) else str(exc)
    extended = getattr(exc, "extendedresult", 0)
    if isinstance(exc, apsw.ConstraintError):
        columns = _CONSTRAINT_COLUMNS.search(text)
        names = [c.strip() for c in columns.group(1).split(",")] if columns else []
        table = names[0].split(".")[0] if names else "?"
        cols = ",".join(n.split(".", 1)[-1] for n in names)
        if extended in (SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE):
            index = unique_indexes.get((table.lower(), cols.lower()))
            if index is not None:
                return SqlError(
                    2601,
                    f"Cannot insert duplicate key row in object 'dbo.{table}' with unique index "
                    f"'{index}'.",
                    severity=14,
                )
            kind = "PRIMARY KEY" if extended == SQLITE_CONSTRAINT_PRIMARYKEY else "UNIQUE KEY"
            return SqlError(
                2627,
                f"Violation of {kind} constraint 'PK_{table}'. Cannot insert duplicate key in "
                f"object 'dbo.{table}'.",
                severity=14,
            )
        if extended == SQLITE_CONSTRAINT_FOREIGNKEY:
            return SqlError(
                547,
                f"The {_verb(sql)} statement conflicted with the FOREIGN KEY constraint. The "
                f'conflict occurred in database "{database}".',
                state=0,
            )
        if extended == SQLITE_CONSTRAINT_CHECK:
            return SqlError(
                547,
                f"The {_verb(sql)} statement conflicted with the CHECK constraint "
                f'"{text.rsplit(": ", 1)[-1]}". The conflict occurred in database '
                f'"{database}".',
                state=0,
            )
        if extended == SQLITE_CONSTRAINT_NOTNULL:
            column = cols or "?"
            return SqlError(
                515,
                f"Cannot insert the value NULL into column '{column}', table "
                f"'{database}.dbo.{table}'; column does not allow nulls. {_verb(sql)} fails.",
                state=2,
            )
        return SqlError(547, f"constraint violation: {text}", state=0)
    if match := _NO_TABLE.search(text):
        return SqlError(208, f"Invalid object name '{match.group(1)}'.")
    if match := _NO_COLUMN.search(text):
        return SqlError(207, f"Invalid column name '{match.group(1).split('.')[-1]}'.")
    if match := _EXISTS.search(text):
        return SqlError(
            2714, f"There is already an object named '{match.group(1)}' in the database.", state=6
        )
    if match := _NEAR.search(text):
        return syntax_error(f"Incorrect syntax near '{match.group(1)}'.")
    if "syntax error" in text or "incomplete input" in text:
        return syntax_error(f"Incorrect syntax: {text}.")
    return SqlError(8180, f"Statement could not be executed: {text}")
