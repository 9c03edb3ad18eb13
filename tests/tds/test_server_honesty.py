"""The TDS test server, judged by independent clients: FreeTDS tsql, python-tds, pymssql.

Every test runs once per client (where the client can express it). A failure here means the
server says something a real client does not accept, so the ferrule tests that run against
it would prove nothing.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.common import server_unavailable
from tests.common.tds_server import TdsServer, TdsServerUnavailableError, get_tds_server
from tests.tds.honesty_clients import (
    CLIENTS,
    Client,
    Connection,
    ConnectOptions,
    PymssqlConnection,
    PytdsConnection,
    ServerError,
    TsqlConnection,
)
from tests.tds.type_cases import HOSTILE, IST, ROUND_TRIPS, SAME, TYPE_CASES

pytestmark = pytest.mark.timeout(120)

# Column declarations for the table round trip: (type, SQL literal, python-tds value, tsql text)
# fmt: off
TABLE_CASES: list[tuple[str, str, Any, str]] = [
    ("bit", "1", True, "1"),
    ("tinyint", "7", 7, "7"),
    ("smallint", "-7", -7, "-7"),
    ("int", "123456", 123456, "123456"),
    ("bigint", "-9000000000", -9000000000, "-9000000000"),
    ("real", "0.25", 0.25, "0.25"),
    ("float", "2.5", 2.5, "2.5"),
    (
        "decimal(38,10)",
        "'12345678901234567890.0123456789'",
        Decimal("12345678901234567890.0123456789"),
        "12345678901234567890.0123456789",
    ),
    ("money", "'12.3456'", Decimal("12.3456"), "12.3456"),
    ("nvarchar(20)", "N'ünï'", "ünï", "ünï"),
    ("varchar(max)", "'long'", "long", "long"),
    ("varbinary(8)", "0xCAFE", b"\xca\xfe", "cafe"),
    ("date", "'1999-12-31'", dt.date(1999, 12, 31), "Dec 31 1999 12:00AM"),
    (
        "datetime2(3)",
        "'2020-06-07 08:09:10.123'",
        dt.datetime(2020, 6, 7, 8, 9, 10, 123000),
        "Jun  7 2020 08:09AM",
    ),
    (
        "uniqueidentifier",
        "'0E984725-C51C-4BF4-9960-E1C80E27ABA0'",
        uuid.UUID("0E984725-C51C-4BF4-9960-E1C80E27ABA0"),
        "0E984725-C51C-4BF4-9960-E1C80E27ABA0",
    ),
]


@pytest.fixture(scope="module")
def server() -> TdsServer:
    try:
        return get_tds_server()
    except TdsServerUnavailableError as exc:
        server_unavailable(f"TDS test server unavailable: {exc}")


@pytest.fixture(params=sorted(CLIENTS), scope="module")
def client(request: pytest.FixtureRequest) -> Client:
    chosen = CLIENTS[request.param]
    reason = chosen.available()
    if reason is not None:
        server_unavailable(f"{chosen.name} unavailable: {reason}")
    return chosen


@pytest.fixture
def connect(server: TdsServer, client: Client) -> Iterator[Any]:
    opened: list[Connection] = []

    def open_connection(**options: Any) -> Connection:
        conn = client.connect(server, ConnectOptions(**options))
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        try:
            conn.close()
        except Exception:  # a test may have broken it on purpose
            pass


def _expected(client: Client, case: tuple[str, Any, Any, str]) -> Any:
    _expr, value, pymssql_value, text = case
    if client.name == "tsql":
        return text
    if client.name == "pymssql" and pymssql_value is not SAME:
        return pymssql_value
    return value


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# -- login -------------------------------------------------------------------------------------


def test_login_and_simple_query(connect: Any) -> None:
    conn = connect()
    assert conn.query("SELECT 1 AS one, N'two' AS two") in ([(1, "two")], [("1", "two")])
    assert conn.columns == ["one", "two"]


def test_login_failure_is_18456(connect: Any) -> None:
    with pytest.raises(Exception) as caught:
        connect(password="wrong password")
    error = caught.value
    number = getattr(error, "number", None)
    assert number == 18456 or "18456" in str(error) or "Login failed" in str(error)


def test_unknown_database_is_refused(connect: Any) -> None:
    with pytest.raises(Exception) as caught:
        connect(database="no_such_db")
    assert getattr(caught.value, "number", 4060) in (4060, 18456, 20002)


# -- types ---------------------------------------------------------------------------------------


def test_every_type_from_expressions(connect: Any, client: Client) -> None:
    conn = connect()
    select = ", ".join(f"{case[0]} AS c{i}" for i, case in enumerate(TYPE_CASES))
    (row,) = conn.query(f"SELECT {select}")
    wrong = [
        (case[0], got, _expected(client, case))
        for case, got in zip(TYPE_CASES, row)
        if got != _expected(client, case)
    ]
    assert not wrong, "\n".join(f"{e}: got {g!r}, expected {x!r}" for e, g, x in wrong)


def test_every_type_through_a_table(connect: Any, client: Client) -> None:
    conn = connect()
    table = _unique("types")
    columns = ", ".join(f"c{i} {case[0]}" for i, case in enumerate(TABLE_CASES))
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, {columns})")
    values = ", ".join(case[1] for case in TABLE_CASES)
    conn.execute(f"INSERT INTO {table} VALUES (1, {values})")
    nulls = ", ".join("NULL" for _ in TABLE_CASES)
    conn.execute(f"INSERT INTO {table} VALUES (2, {nulls})")
    rows = conn.query(f"SELECT * FROM {table} ORDER BY id")
    tsql = client.name == "tsql"
    assert rows[0][1:] == tuple(case[3] if tsql else case[2] for case in TABLE_CASES)
    assert rows[1][1:] == tuple("NULL" if tsql else None for _ in TABLE_CASES)
    assert conn.columns == ["id", *(f"c{i}" for i in range(len(TABLE_CASES)))]


def test_comparisons_follow_sql_server(connect: Any) -> None:
    """Dates compare by instant, strings ignore case, decimals compare by value."""
    conn = connect()
    table = _unique("cmp")
    conn.execute(f"CREATE TABLE {table} (id int, at datetime2(7), name nvarchar(10), "
                 "price decimal(10,2))")  # fmt: skip
    conn.execute(f"INSERT INTO {table} VALUES (1, '2024-01-02 03:04:05.1', N'Abc', 10), "
                 "(2, '2024-01-02 03:04:05.2', N'x', 9.5)")  # fmt: skip
    rows = conn.query(f"SELECT id FROM {table} WHERE at = '2024-01-02T03:04:05.1000000' "
                      "AND name = N'aBC' AND price = 10.00")  # fmt: skip
    assert rows in ([(1,)], [("1",)])
    rows = conn.query(f"SELECT id FROM {table} ORDER BY price")
    assert rows in ([(2,), (1,)], [("2",), ("1",)])


# -- parameters ------------------------------------------------------------------------------------


def test_sp_executesql_from_tsql_text(connect: Any, client: Client) -> None:
    conn = connect()
    rows = conn.query(
        "EXEC sp_executesql N'SELECT @a + 1 AS r, @b AS s', N'@a int, @b nvarchar(10)', "
        "@a = 41, @b = N'x'"
    )
    assert rows in ([(42, "x")], [("42", "x")])


def test_output_parameter_and_return_status(connect: Any, client: Client) -> None:
    conn = connect()
    proc = _unique("add_proc")
    conn.execute(
        f"CREATE PROCEDURE {proc} @a int, @b int, @sum int OUTPUT AS BEGIN "
        "SET @sum = @a + @b; RETURN 7 END"
    )
    rows = conn.query(
        f"DECLARE @s int, @r int; EXEC @r = {proc} 2, 3, @s OUTPUT; SELECT @s AS s, @r AS r"
    )
    assert rows in ([(5, 7)], [("5", "7")])
    rows = conn.query(
        "DECLARE @o int; EXEC sp_executesql N'SET @o = @a * 2', N'@a int, @o int OUTPUT', "
        "@a = 21, @o = @o OUTPUT; SELECT @o AS o"
    )
    assert rows in ([(42,)], [("42",)])
    if isinstance(conn, (PytdsConnection, PymssqlConnection)):
        if isinstance(conn, PytdsConnection):
            import pytds

            out = pytds.output(param_type=int, value=None)
        else:
            import pymssql

            out = pymssql.output(int)
        values, status = conn.callproc(proc, (20, 22, out))
        assert values[2] == 42
        assert status == 7


def test_prepare_execute_unprepare(connect: Any) -> None:
    conn = connect()
    rows = conn.query(
        "DECLARE @h int; EXEC sp_prepare @h OUTPUT, N'@a int', N'SELECT @a * 10 AS v'; "
        "EXEC sp_execute @h, 4; EXEC sp_unprepare @h"
    )
    # sp_prepare also sends the statement's (empty) result description, a result set of its
    # own that tsql prints without separating it from the next one: the last row counts.
    assert rows[-1] in ((40,), ("40",))


def test_rpc_parameters_of_every_type(connect: Any, client: Client) -> None:
    if not client.rpc:
        pytest.skip(f"{client.name} substitutes parameters into the SQL text itself")
    conn = connect()
    values = [
        0, 1, -(2**31), 2**40, 1.5, Decimal("-1234567.8901"), "text ü", "x" * 6000, b"\x00\xff",
        b"y" * 9000, True, dt.date(2020, 1, 2), dt.datetime(2021, 2, 3, 4, 5, 6, 789000),
        dt.time(7, 8, 9, 123000), dt.datetime(2022, 3, 4, 5, 6, 7, tzinfo=IST),
        uuid.UUID("0E984725-C51C-4BF4-9960-E1C80E27ABA0"), None,
    ]
    import pytds

    # python-tds sends bytes as text unless wrapped.
    sent = [pytds.Binary(v) if isinstance(v, bytes) else v for v in values]
    placeholders = ", ".join(f"%s AS p{i}" for i in range(len(values)))
    (row,) = conn.query(f"SELECT {placeholders}", tuple(sent))
    assert list(row) == values


def test_parameter_values_are_data_not_sql(connect: Any, client: Client) -> None:
    if not client.rpc:
        pytest.skip(f"{client.name} substitutes parameters into the SQL text itself")
    conn = connect()
    hostile = "'; DROP TABLE x; -- \x00 $$ \u2019"
    assert conn.query("SELECT %s AS v", (hostile,)) == [(hostile,)]


# -- errors ------------------------------------------------------------------------------------


def _error_of(conn: Connection, sql: str) -> ServerError:
    with pytest.raises(ServerError) as caught:
        conn.query(sql)
    return caught.value


def test_errors_carry_number_severity_state(connect: Any, client: Client) -> None:
    conn = connect()
    error = _error_of(conn, "RAISERROR('boom %d', 16, 3, 7)")
    assert (error.number, "boom 7" in error.message) == (50000, True)
    if client.name != "pymssql":  # db-lib keeps severity and state in its message handler
        assert (error.severity, error.state) == (16, 3)
    assert _error_of(conn, "THROW 51000, N'thrown', 2").number == 51000
    assert _error_of(conn, "SELECT * FROM no_such_table_here").number == 208
    assert _error_of(conn, "SELEC 1").number == 102
    assert _error_of(conn, "EXEC tds_test_deadlock").number == 1205
    assert _error_of(conn, "EXEC tds_test_raise 2601, N'custom'").number == 2601
    assert conn.query("SELECT 5 AS still_usable") in ([(5,)], [("5",)])


def test_constraint_violations_map_to_sql_server_numbers(connect: Any) -> None:
    conn = connect()
    parent, child = _unique("parent"), _unique("child")
    conn.execute(f"CREATE TABLE {parent} (id int PRIMARY KEY, code nvarchar(10) NOT NULL)")
    conn.execute(f"CREATE UNIQUE INDEX ux_{parent} ON {parent} (code)")
    conn.execute(
        f"CREATE TABLE {child} (id int PRIMARY KEY, parent_id int REFERENCES {parent}(id), "
        "qty int CHECK (qty > 0))"
    )
    conn.execute(f"INSERT INTO {parent} VALUES (1, N'a')")
    assert _error_of(conn, f"INSERT INTO {parent} VALUES (1, N'b')").number == 2627
    assert _error_of(conn, f"INSERT INTO {parent} VALUES (2, N'a')").number == 2601
    assert _error_of(conn, f"INSERT INTO {child} VALUES (1, 99, 1)").number == 547
    assert _error_of(conn, f"INSERT INTO {child} VALUES (1, 1, 0)").number == 547
    assert _error_of(conn, f"INSERT INTO {parent} VALUES (3, NULL)").number == 515
    assert conn.query(f"SELECT COUNT(*) AS n FROM {parent}") in ([(1,)], [("1",)])


# -- transactions --------------------------------------------------------------------------------


def _count(conn: Connection, table: str) -> int:
    (row,) = conn.query(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row[0])


def test_transactions_in_sql(connect: Any) -> None:
    conn, other = connect(), connect()
    table = _unique("tx")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    conn.execute(f"BEGIN TRAN; INSERT INTO {table} VALUES (1)")
    assert conn.query("SELECT @@TRANCOUNT AS n") in ([(1,)], [("1",)])
    assert _count(other, table) == 0
    conn.execute("ROLLBACK")
    assert _count(conn, table) == 0
    conn.execute(f"BEGIN TRAN; INSERT INTO {table} VALUES (1); SAVE TRAN sp1; "
                 f"INSERT INTO {table} VALUES (2); ROLLBACK TRAN sp1; COMMIT")
    assert _count(other, table) == 1
    conn.execute(f"BEGIN TRAN; BEGIN TRAN; INSERT INTO {table} VALUES (3); COMMIT")
    assert conn.query("SELECT @@TRANCOUNT AS n") in ([(1,)], [("1",)])
    conn.execute("COMMIT")
    assert _count(other, table) == 2
    assert _error_of(conn, "COMMIT").number == 3902


def test_client_transactions(connect: Any, client: Client) -> None:
    if not isinstance(client, type(client)) or client.name == "tsql":
        pytest.skip("tsql has no transaction API of its own (its SQL is tested above)")
    table = _unique("ctx")
    setup = connect()
    setup.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    conn = connect(autocommit=False)
    assert isinstance(conn, (PytdsConnection, PymssqlConnection))
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    conn.rollback()
    assert _count(setup, table) == 0
    conn.execute(f"INSERT INTO {table} VALUES (2)")
    conn.commit()
    assert _count(setup, table) == 1
    conn.execute(f"INSERT INTO {table} VALUES (3)")
    conn.commit()
    assert _count(setup, table) == 2


# -- big messages --------------------------------------------------------------------------------


def test_multi_packet_results_and_requests(connect: Any, client: Client) -> None:
    conn = connect()
    table = _unique("big")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, payload nvarchar(200))")
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        f"INSERT INTO {table} SELECT i, REPLICATE(N'é', 100) FROM n"
    )
    rows = conn.query(f"SELECT id, payload FROM {table} ORDER BY id")
    assert len(rows) == 3000
    assert {str(r[1]) for r in rows} == {"é" * 100}
    assert [int(r[0]) for r in rows] == list(range(1, 3001))
    literal = "ab" * 20000  # a 80 KB batch: many packets from the client
    (row,) = conn.query(f"SELECT LEN(N'{literal}') AS n")
    assert int(row[0]) == 40000
    (row,) = conn.query("SELECT REPLICATE(CAST(N'z' AS nvarchar(max)), 500000) AS big")
    assert row[0] == "z" * 500000


def test_packet_size_negotiation(server: TdsServer, client: Client) -> None:
    if client.name != "python-tds":
        pytest.skip("only python-tds lets a test choose the packet size")
    import pytds

    for size in (512, 16384):
        with pytds.connect(dsn=server.host, port=server.port, user=server.user,
                           password=server.password, database=server.database,
                           blocksize=size, autocommit=True) as conn:
            with conn.cursor() as cursor:
                cursor.execute("SELECT REPLICATE(CAST(N'q' AS nvarchar(max)), 20000) AS v")
                assert cursor.fetchone()[0] == "q" * 20000


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_of_waitfor(connect: Any, client: Client) -> None:
    if isinstance(client, type(CLIENTS["tsql"])):
        pytest.skip("tsql has no way to cancel a running batch")
    conn = connect(timeout=1)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        conn.query("WAITFOR DELAY '00:00:10'")
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the cancel took {elapsed:.1f} s: {caught.value!r}"
    assert "time" in repr(caught.value).lower()
    if isinstance(conn, PymssqlConnection):
        # db-lib gives up a connection whose query timed out; the server must not care.
        conn = connect()
    assert conn.query("SELECT 9 AS after_cancel") == [(9,)]


# -- TLS -----------------------------------------------------------------------------------------


_ENCRYPTED = "SELECT encrypt_option FROM sys.dm_exec_connections WHERE session_id = @@SPID"


def test_tls_with_the_test_ca(connect: Any) -> None:
    conn = connect(tls=True)
    assert conn.query("SELECT N'secret' AS s") == [("secret",)]
    assert conn.query(_ENCRYPTED) == [("TRUE",)]
    assert connect().query(_ENCRYPTED) == [("FALSE",)]


def test_tls_rejects_an_unrelated_ca(connect: Any, server: TdsServer) -> None:
    with pytest.raises(Exception):  # noqa: B017 - each client raises its own kind
        connect(tls=True, ca=server.tls_other_ca)


def test_tls_for_the_login_only(connect: Any, client: Client) -> None:
    if client.name != "python-tds":
        pytest.skip("only python-tds offers login-only encryption")
    conn = connect(tls=True, tls_login_only=True)
    assert conn.query("SELECT 1 AS one") == [(1,)]
    assert conn.query(_ENCRYPTED) == [("FALSE",)]


def test_strict_tls_first_with_alpn(server: TdsServer) -> None:
    """TDS 8.0: TLS before any TDS byte, ALPN tds/8.0 (checked with the openssl CLI)."""
    cmd = [
        "openssl",
        "s_client",
        "-connect",
        f"{server.host}:{server.port}",
        "-alpn",
        "tds/8.0",
        "-CAfile",
        server.tls_ca,
        "-servername",
        server.tls_server_name,
        "-verify_hostname",
        server.tls_server_name,
        "-verify_return_error",
    ]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    output = done.stdout + done.stderr
    assert "ALPN protocol: tds/8.0" in output, output
    assert "Verify return code: 0 (ok)" in output, output
    other = [*cmd[:6], "-CAfile", server.tls_other_ca, *cmd[8:]]
    done = subprocess.run(other, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    assert "Verify return code: 0 (ok)" not in done.stdout + done.stderr


def test_tsql_messages_reach_the_client(connect: Any, client: Client) -> None:
    conn = connect()
    conn.query("PRINT N'hello from print'")
    if isinstance(conn, TsqlConnection):
        assert "hello from print" in conn.messages


def test_multiple_result_sets(connect: Any, client: Client) -> None:
    conn = connect()
    if not isinstance(conn, PytdsConnection):
        pytest.skip("python-tds shows every result set of a batch; the others keep the last")
    sets = conn.result_sets("SELECT 1 AS a; SELECT N'b' AS b UNION ALL SELECT N'c'; SELECT 3")
    assert sets == [[(1,)], [("b",), ("c",)], [(3,)]]


def test_bulk_load(server: TdsServer, client: Client, connect: Any) -> None:
    if client.name != "python-tds":
        pytest.skip("python-tds is the client here whose bulk copy speaks INSERT BULK")
    conn = connect()
    assert isinstance(conn, PytdsConnection)
    table = _unique("bulk")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name nvarchar(20), "
                 "price decimal(10,2), at datetime2(3), note varchar(max))")  # fmt: skip
    rows = [
        (i, f"name {i}", Decimal(i) / 4, dt.datetime(2024, 1, 1, 0, 0, i % 60), "n" * i)
        for i in range(1, 2001)
    ]  # fmt: skip
    rows.append((9999, None, None, None, None))
    # python-tds sends every column as nvarchar(4000); the server converts to the column types.
    text_rows = [tuple(None if v is None else str(v) for v in row) for row in rows]
    cursor = conn.conn.cursor()
    cursor.copy_to(table_or_view=table, data=text_rows, keep_nulls=True)
    assert conn.query(f"SELECT COUNT(*) AS n FROM {table}") == [(2001,)]
    back = conn.query(f"SELECT id, name, price, at, note FROM {table} ORDER BY id")
    assert back == [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def browser_server() -> Iterator[TdsServer]:
    """A server whose SQL Browser answers on the real UDP port, 1434, as clients expect."""
    started = TdsServer(browser_port=1434)
    try:
        started.start()
    except TdsServerUnavailableError as exc:
        started.close()
        if "address already in use" in str(exc).lower():
            pytest.skip(f"UDP 1434 is taken on this machine: {exc}")
        server_unavailable(f"TDS test server unavailable: {exc}")
    yield started
    started.close()


def test_named_instance_through_the_sql_browser(browser_server: TdsServer, client: Client) -> None:
    conn = client.connect(browser_server, ConnectOptions(instance=browser_server.instance))
    try:
        assert conn.query("SELECT @@SERVERNAME AS s") == [("ferrule-tds",)]
    finally:
        conn.close()


# -- ferrule's test list, with python-tds as the client ----------------------------------------
# The cases of tests/tds/test_mssql_*.py that python-tds can express (it binds through RPC
# too). Not expressible with it: concurrent calls queued on one connection (it blocks, one
# call at a time), cancelling a task at a random moment (only its socket timeout sends
# ATTENTION), prepare() with typed sp_prepare handles, typed bulk load of every column type
# (its copy_to sends nvarchar columns; see test_bulk_load), and ferrule's own DSN parsing.


@pytest.fixture
def pytds_conn(connect: Any, client: Client) -> PytdsConnection:
    if client.name != "python-tds":
        pytest.skip("a case of ferrule's list, run with python-tds")
    conn = connect()
    assert isinstance(conn, PytdsConnection)
    return conn


@pytest.mark.parametrize(("decl", "value", "back"), ROUND_TRIPS, ids=lambda v: str(v)[:30])
def test_bound_value_into_each_column_type(
    pytds_conn: PytdsConnection, decl: str, value: Any, back: Any
) -> None:
    import pytds

    table = _unique("rt")
    pytds_conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v {decl} NULL)")
    sent = pytds.Binary(value) if isinstance(value, bytes) else value
    pytds_conn.query(f"INSERT INTO {table} VALUES (%s, %s)", (1, sent))
    pytds_conn.query(f"INSERT INTO {table} VALUES (%s, %s)", (2, None))
    assert pytds_conn.query(f"SELECT v FROM {table} ORDER BY id") == [(back,), (None,)]


def test_named_parameters_and_hostile_values(pytds_conn: PytdsConnection) -> None:
    assert pytds_conn.query("SELECT %(a)s + %(b)s AS s", {"a": 1, "b": 2}) == [(3,)]
    for text in HOSTILE:
        assert pytds_conn.query("SELECT %s AS v", (text,)) == [(text,)]
        assert pytds_conn.query("SELECT %(v)s AS v", {"v": text}) == [(text,)]


def test_rowcounts_and_executemany_all_or_nothing(connect: Any, client: Client) -> None:
    if client.name != "python-tds":
        pytest.skip("a case of ferrule's list, run with python-tds")
    conn = connect(autocommit=False)
    assert isinstance(conn, PytdsConnection)
    table = _unique("many")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name nvarchar(10))")
    conn.commit()
    cursor = conn.conn.cursor()
    cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(i, str(i)) for i in range(10)])
    cursor.execute(f"UPDATE {table} SET name = %s WHERE id > %s", ("z", 4))
    assert cursor.rowcount == 5
    conn.commit()
    with pytest.raises(Exception, match=r"2627|PRIMARY KEY|UNIQUE"):
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(20, "a"), (20, "b")])
    conn.rollback()
    assert _count(conn, table) == 10


def test_partial_fetch_then_the_next_query(pytds_conn: PytdsConnection) -> None:
    cursor = pytds_conn.conn.cursor()
    cursor.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
        "SELECT i FROM n"
    )
    assert [r[0] for r in cursor.fetchmany(3)] == [1, 2, 3]
    cursor.close()
    assert pytds_conn.query("SELECT 5 AS v") == [(5,)]


def test_isolation_and_savepoints(pytds_conn: PytdsConnection) -> None:
    table = _unique("iso")
    pytds_conn.execute(f"CREATE TABLE {table} (id int)")
    pytds_conn.execute(
        f"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; BEGIN TRANSACTION; "
        f"INSERT INTO {table} VALUES (1); SAVE TRANSACTION sp1; INSERT INTO {table} VALUES (2); "
        "ROLLBACK TRANSACTION sp1; COMMIT TRANSACTION"
    )
    assert pytds_conn.query(f"SELECT id FROM {table}") == [(1,)]


def test_timeouts_at_varied_moments_stay_in_sync(connect: Any, client: Client) -> None:
    """ferrule's random cancellations, as far as python-tds goes: its socket timeout sends
    ATTENTION; every later query must get its own answer."""
    if client.name != "python-tds":
        pytest.skip("a case of ferrule's list, run with python-tds")
    conn = connect(timeout=0.2)
    assert isinstance(conn, PytdsConnection)
    for i, delay in enumerate(["00:00:05", "00:00:00.150", "00:00:00.250", "00:00:00"] * 5):
        try:
            conn.query(f"WAITFOR DELAY '{delay}'; SELECT {i} AS v")
        except Exception as exc:
            assert "time" in repr(exc).lower(), exc
        assert conn.query("SELECT %s AS m", (f"m{i}",)) == [(f"m{i}",)]
