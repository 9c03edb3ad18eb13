"""A SQL Server stand-in for the test suite: real TDS 7.4 / 8.0 on the wire, SQLite behind.

One module per concern: packets, streams (TLS), prelogin, login7, tokens, types/values,
lexer/parser/translate (T-SQL to SQLite), engine (a session's SQL), statements, procedures,
transactions, rpc, bulk, connection (one client, ATTENTION), server (the listener).
docs/tds-test-server.md says what it implements and how it is proven honest.
"""

from .server import ServerState, TdsTestServer, main

__all__ = ["ServerState", "TdsTestServer", "main"]
