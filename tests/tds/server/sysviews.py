"""The few system views tests ask about: sys.dm_exec_sessions, sys.dm_exec_connections and
sys.dm_exec_requests (is encryption on? are sessions left behind? is the server idle after a
cancel?). Each is refilled into a TEMP table of the asking session just before a statement
that names it runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import apsw


@dataclass
class SessionInfo:
    """What the server knows about one logged-in connection."""

    session_id: int
    login_name: str
    host_name: str
    program_name: str
    encrypted: bool
    login_time: str = field(default_factory=lambda: dt.datetime.now().isoformat(" ")[:23])
    command: str = ""  # the statement running now, "" when idle
    start_time: str = ""
    kill: Any = None  # a callable that cuts the connection (KILL)


VIEWS = {
    "sys.dm_exec_sessions": (
        "session_id smallint, login_name nvarchar(128), host_name nvarchar(128), "
        "program_name nvarchar(128), status nvarchar(30), login_time datetime, "
        "is_user_process bit",
        lambda s: (s.session_id, s.login_name, s.host_name, s.program_name,
                   "running" if s.command else "sleeping", s.login_time, 1),
    ),
    "sys.dm_exec_connections": (
        "session_id smallint, encrypt_option nvarchar(40), net_transport nvarchar(40), "
        "protocol_type nvarchar(40), auth_scheme nvarchar(40), connect_time datetime",
        lambda s: (s.session_id, "TRUE" if s.encrypted else "FALSE", "TCP", "TSQL", "SQL",
                   s.login_time),
    ),
    "sys.dm_exec_requests": (
        "session_id smallint, status nvarchar(30), command nvarchar(32), start_time datetime",
        lambda s: (s.session_id, "running", s.command, s.start_time),
    ),
}  # fmt: skip


def refresh(conn: apsw.Connection, view: str, sessions: list[SessionInfo]) -> None:
    columns, row_of = VIEWS[view]
    conn.execute(f'DROP TABLE IF EXISTS temp."{view}"')
    conn.execute(f'CREATE TEMP TABLE "{view}" ({columns})')
    rows = [row_of(s) for s in sessions if view != "sys.dm_exec_requests" or s.command]
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        conn.executemany(f'INSERT INTO temp."{view}" VALUES ({marks})', rows)
