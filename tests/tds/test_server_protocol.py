"""Protocol behaviour of the TDS test server that the independent clients cannot reach:
RESETCONNECTION, FEDAUTH, TDS 8.0 strict logins, several RPCs in one message, transaction
manager requests, ATTENTION at random moments, and the login refusals."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.common import server_unavailable
from tests.common.tds_server import TdsServer, TdsServerUnavailableError, get_tds_server
from tests.tds.raw_client import RawClient, all_headers, int_param, nvarchar_param
from tests.tds.server import tokens as tk
from tests.tds.server.packets import ATTENTION, HEADER, SQL_BATCH, STATUS_EOM

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> TdsServer:
    try:
        return get_tds_server()
    except TdsServerUnavailableError as exc:
        server_unavailable(f"TDS test server unavailable: {exc}")


@pytest.fixture
def client(server: TdsServer) -> Iterator[RawClient]:
    raw = RawClient(server.host, server.port)
    response = raw.login(server.user, server.password, server.database)
    assert response.of("loginack") == [0x74000004]
    yield raw
    raw.close()


def test_login_response_announces_the_session(server: TdsServer) -> None:
    raw = RawClient(server.host, server.port, packet_size=8192)
    response = raw.login(server.user, server.password, server.database)
    changes = {kind: (new, old) for kind, new, old in response.of("envchange")}
    assert changes[tk.ENV_DATABASE] == (server.database, "master")
    assert changes[tk.ENV_PACKET_SIZE] == ("8192", "4096")
    assert changes[tk.ENV_COLLATION][0] == bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
    assert changes[tk.ENV_LANGUAGE][0] == "us_english"
    rows = raw.batch("SELECT REPLICATE(CAST(N'p' AS nvarchar(max)), 30000) AS v").rows
    assert rows == [["p" * 30000]]
    raw.close()


def test_login_failures(server: TdsServer) -> None:
    raw = RawClient(server.host, server.port)
    response = raw.login(server.user, "not the password", server.database)
    assert [number for number, _ in response.errors] == [18456]
    assert response.of("loginack") == []
    raw.close()
    raw = RawClient(server.host, server.port)
    response = raw.login(server.user, server.password, "missing_db")
    assert [number for number, _ in response.errors] == [4060, 18456]
    raw.close()


def test_fedauth_access_token(server: TdsServer) -> None:
    raw = RawClient(server.host, server.port)
    response = raw.login("", "", server.database, token=server.access_token)
    assert response.of("loginack")
    assert response.of("featureextack") == [{0x02: b""}]
    assert raw.batch("SELECT SUSER_SNAME() AS who").rows == [[server.user]]
    raw.close()
    raw = RawClient(server.host, server.port)
    assert [n for n, _ in raw.login("", "", server.database, token="forged").errors] == [18456]
    raw.close()


def test_strict_tds8_login_and_query(server: TdsServer) -> None:
    raw = RawClient(server.host, server.port, strict_ca=server.tls_ca)
    assert raw.sock.selected_alpn_protocol() == "tds/8.0"
    assert raw.login(server.user, server.password, server.database).of("loginack")
    assert raw.batch("SELECT N'over strict TLS' AS v").rows == [["over strict TLS"]]
    raw.close()


def test_reset_connection_flag(client: RawClient) -> None:
    table = f"#reset_{uuid.uuid4().hex[:8]}"
    client.batch(f"CREATE TABLE {table} (id int); BEGIN TRAN; SET NOCOUNT ON")
    response = client.batch("SELECT @@TRANCOUNT AS n", reset=True)
    kinds = [kind for kind, _new, _old in response.of("envchange")]
    assert kinds == [tk.ENV_RESET_ACK, tk.ENV_ROLLBACK_TRAN]
    assert client.descriptor == bytes(8)
    assert response.rows == [[0]]
    assert client.batch(f"SELECT * FROM {table}").errors[0][0] == 208


def test_several_rpcs_in_one_message(client: RawClient) -> None:
    response = client.rpc([
        (10, [("", 0, nvarchar_param("SELECT @a + 1 AS r")), ("", 0, nvarchar_param("@a int")),
              ("@a", 0, int_param(1))]),
        ("sp_executesql", [("", 0, nvarchar_param("SET @o = 40 + 2")),
                           ("", 0, nvarchar_param("@o int OUTPUT")),
                           ("@o", 1, int_param(None))]),
    ])  # fmt: skip
    assert response.rows == [[2]]
    assert response.of("returnvalue") == [(2, "@o", 42)]
    assert response.of("returnstatus") == [0, 0]
    kinds = [name for name, _ in response.tokens if name.startswith("done")]
    assert kinds == ["doneinproc", "doneproc", "doneproc"]  # SET @o makes no DONE
    statuses = [value[0] for name, value in response.tokens if name == "doneproc"]
    assert statuses[0] & tk.DONE_MORE and not statuses[1] & tk.DONE_MORE


def test_prepare_execute_through_rpc(client: RawClient) -> None:
    prepared = client.rpc([(11, [("@h", 1, int_param(None)), ("", 0, nvarchar_param("@a int")),
                                 ("", 0, nvarchar_param("SELECT @a * 3 AS v"))])])  # fmt: skip
    ((_ordinal, _name, handle),) = prepared.of("returnvalue")
    # SQL Server 2012 CU6 and later describe a single statement's result, without rows.
    assert prepared.of("columns") == [["v"]] and prepared.rows == []
    assert client.rpc([(12, [("", 0, int_param(handle)), ("", 0, int_param(5))])]).rows == [[15]]
    client.rpc([(15, [("", 0, int_param(handle))])])
    missing = client.rpc([(12, [("", 0, int_param(handle)), ("", 0, int_param(5))])])
    assert missing.errors[0][0] == 8179
    both = client.rpc(
        [
            (
                13,
                [
                    ("@h", 1, int_param(None)),
                    ("", 0, nvarchar_param("@a int")),
                    ("", 0, nvarchar_param("SELECT @a AS v")),
                    ("", 0, int_param(8)),
                ],
            )
        ]
    )
    assert both.rows == [[8]] and both.of("returnvalue")[0][1] == "@h"


def test_transaction_manager_requests(client: RawClient) -> None:
    table = f"tm_{uuid.uuid4().hex[:8]}"
    client.batch(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    begin = client.transaction(5, bytes([2]) + b"\x00")
    assert begin.of("envchange")[0][0] == tk.ENV_BEGIN_TRAN
    descriptor = client.descriptor
    assert descriptor != bytes(8)
    client.batch(f"INSERT INTO {table} VALUES (1)")
    client.transaction(9, bytes([2]) + "s1".encode("utf-16-le"))
    client.batch(f"INSERT INTO {table} VALUES (2)")
    client.transaction(8, bytes([2]) + "s1".encode("utf-16-le") + b"\x00")
    commit = client.transaction(7, b"\x00\x00")
    assert commit.of("envchange")[0] == (tk.ENV_COMMIT_TRAN, b"", descriptor)
    assert client.batch(f"SELECT id FROM {table}").rows == [[1]]
    assert client.transaction(7, b"\x00\x00").errors[0][0] == 3902


def test_attention_at_random_moments_keeps_the_connection_in_sync(client: RawClient) -> None:
    """ATTENTION before, during and after a request: always exactly one acknowledgement,
    and the next query answers correctly."""
    rng = random.Random(1234)
    statements = ["WAITFOR DELAY '00:00:00.050'; SELECT 1 AS a",
                  "SELECT TOP 2000 REPLICATE(N'x', 100) AS v FROM (SELECT 1 AS z) s "
                  "CROSS JOIN (SELECT 1 AS y) t", "SELECT 2 AS b"]  # fmt: skip
    for i in range(150):
        client.send_batch(rng.choice(statements))
        time.sleep(rng.choice([0, 0, 0.001, 0.01, 0.03, 0.06]))
        client.attention()
        seen_ack = False
        while not seen_ack:
            response = client.response()
            seen_ack = any(s & tk.DONE_ATTN for s, _ in response.dones)
        check = client.batch(f"SELECT {i} AS i")
        assert check.rows == [[i]], f"out of sync after {i} cancellations: {check.tokens}"


def test_waitfor_is_cancelled_promptly(client: RawClient) -> None:
    client.send_batch("WAITFOR DELAY '00:00:10'")
    time.sleep(0.2)
    started = time.monotonic()
    client.attention()
    response = client.response()
    assert time.monotonic() - started < 1
    assert response.dones[-1][0] & tk.DONE_ATTN


def test_deadlock_hook_rolls_back(client: RawClient) -> None:
    table = f"dl_{uuid.uuid4().hex[:8]}"
    client.batch(f"CREATE TABLE {table} (id int)")
    response = client.batch(f"BEGIN TRAN; INSERT INTO {table} VALUES (1); "
                            "EXEC tds_test_deadlock; SELECT 1 AS never")  # fmt: skip
    assert response.errors[0][0] == 1205
    assert response.rows == []
    assert any(kind == tk.ENV_ROLLBACK_TRAN for kind, _n, _o in response.of("envchange"))
    assert client.batch(f"SELECT COUNT(*) AS n FROM {table}").rows == [[0]]


def test_system_views_and_kill(server: TdsServer, client: RawClient) -> None:
    victim = RawClient(server.host, server.port)
    victim.login(server.user, server.password, server.database)
    (victim_spid,) = victim.batch("SELECT @@SPID AS spid").rows[0]
    sessions = client.batch("SELECT session_id FROM sys.dm_exec_sessions").rows
    assert [victim_spid] in sessions
    (encrypt,) = client.batch("SELECT encrypt_option FROM sys.dm_exec_connections "
                              "WHERE session_id = @@SPID").rows[0]  # fmt: skip
    assert encrypt == "FALSE"
    victim.send_batch("WAITFOR DELAY '00:00:10'")
    time.sleep(0.2)
    running = client.batch("SELECT session_id, command FROM sys.dm_exec_requests").rows
    assert [victim_spid, "WAITFOR"] in running
    assert client.batch(f"KILL {victim_spid}").errors == []
    with pytest.raises(ConnectionError):
        victim.response()
    victim.close()
    sessions = client.batch("SELECT session_id FROM sys.dm_exec_sessions").rows
    assert [victim_spid] not in sessions
    assert client.batch(f"KILL {victim_spid}").errors[0][0] == 6106


def test_server_properties(client: RawClient) -> None:
    rows = client.batch(
        "SELECT SERVERPROPERTY('ProductVersion') AS v, "
        "SERVERPROPERTY('EngineEdition') AS e, @@VERSION AS full_version"
    ).rows
    assert rows[0][:2] == ["16.0.1000.6", 3]
    assert rows[0][2].startswith("Microsoft SQL Server 2022")


def test_attention_right_behind_its_request(client: RawClient) -> None:
    """A request and its ATTENTION in one TCP segment: the request never runs its 10 s."""
    sql = "WAITFOR DELAY '00:00:10'".encode("utf-16-le")
    payload = all_headers(client.descriptor) + sql
    batch = HEADER.pack(SQL_BATCH, STATUS_EOM, 8 + len(payload), 0, 1, 0) + payload
    attention = HEADER.pack(ATTENTION, STATUS_EOM, 8, 0, 1, 0)
    started = time.monotonic()
    client.sock.sendall(batch + attention)
    response = client.response()
    assert time.monotonic() - started < 1
    assert [s & tk.DONE_ATTN for s, _ in response.dones] == [tk.DONE_ATTN]
    assert client.batch("SELECT 7 AS after").rows == [[7]]
