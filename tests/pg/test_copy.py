"""COPY: binary records in, raw data in and out, streamed with bounded memory."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import io
import time
import uuid
from typing import Any

import pytest

import ferrule


@pytest.fixture
async def conn(pg_dsn: str) -> Any:
    c = await ferrule.connect(pg_dsn, sslmode="disable")
    yield c
    await c.close()


async def test_copy_records_to_table_all_types(conn: Any) -> None:
    await conn.execute(
        "CREATE TEMP TABLE cp (a int, b text, c numeric, d timestamptz, e uuid, f int[], "
        "g jsonb, h bytea, i bool, j date)"
    )
    now = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    u = uuid.uuid4()
    records = [
        (
            1,
            "o'neil $$ --",
            decimal.Decimal("1.50"),
            now,
            u,
            [1, None],
            {"k": [1]},
            b"\0\1",
            True,
            datetime.date(2020, 1, 2),
        ),
        (2, None, None, None, None, None, None, None, None, None),
    ]
    status = await conn.copy_records_to_table("cp", records=records)
    assert status == "COPY 2"
    rows = await conn.fetch("SELECT * FROM cp ORDER BY a")
    assert tuple(rows[0]) == records[0]
    assert tuple(rows[1]) == records[1]


async def test_copy_records_columns_schema_and_async_iterable(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp2 (id int, name text, extra text DEFAULT 'd')")
    schema = await conn.fetchval("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")

    async def gen() -> Any:
        for i in range(5000):
            yield (f"n{i}", i)

    status = await conn.copy_records_to_table(
        "cp2", records=gen(), columns=["name", "id"], schema_name=schema
    )
    assert status == "COPY 5000"
    assert await conn.fetchval("SELECT count(*) FROM cp2 WHERE extra = 'd'") == 5000
    assert await conn.fetchval("SELECT name FROM cp2 WHERE id = 4999") == "n4999"


async def test_copy_records_bad_value_aborts_everything(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp3 (id int)")
    records = [(i,) for i in range(3000)] + [("not an int",)]
    with pytest.raises(ferrule.DataError, match="record 3000"):
        await conn.copy_records_to_table("cp3", records=records)
    assert await conn.fetchval("SELECT count(*) FROM cp3") == 0
    assert await conn.fetchval("SELECT 1") == 1


async def test_copy_records_constraint_error_is_clear(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp4 (id int PRIMARY KEY)")
    with pytest.raises(ferrule.UniqueViolationError):
        await conn.copy_records_to_table("cp4", records=[(1,), (1,)])
    assert await conn.fetchval("SELECT count(*) FROM cp4") == 0


async def test_copy_to_table_csv_from_bytes_file_and_iterables(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp5 (id int, name text)")
    data = b"id,name\n1,a\n2,b\n"
    assert await conn.copy_to_table("cp5", source=data, format="csv", header=True) == "COPY 2"
    assert await conn.copy_to_table("cp5", source=io.BytesIO(b"3\tc\n")) == "COPY 1"

    async def chunks() -> Any:
        yield b"4\t"
        yield b"d\n5\te\n"

    assert await conn.copy_to_table("cp5", source=chunks()) == "COPY 2"
    assert await conn.fetchval("SELECT string_agg(name, '' ORDER BY id) FROM cp5") == "abcde"


async def test_copy_from_query_and_table_to_file_and_callable(conn: Any, tmp_path: Any) -> None:
    path = tmp_path / "out.csv"
    with pytest.raises(ferrule.InterfaceError, match="no bound parameters"):
        await conn.copy_from_query("SELECT $1::int", 3, output=path)
    status = await conn.copy_from_query(
        "SELECT i, 'x' || i FROM generate_series(1, 3) i", output=path, format="csv"
    )
    assert status == "COPY 3"
    assert path.read_bytes() == b"1,x1\n2,x2\n3,x3\n"
    got: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        got.append(chunk)

    await conn.execute("CREATE TEMP TABLE cp6 AS SELECT i FROM generate_series(1, 100000) i")
    assert await conn.copy_from_table("cp6", output=sink) == "COPY 100000"
    assert b"".join(got).count(b"\n") == 100000
    buf = io.BytesIO()
    await conn.copy_from_table("cp6", output=buf, columns=["i"], format="binary")
    assert buf.getvalue().startswith(b"PGCOPY\n\xff\r\n\0")


async def test_copy_out_slow_consumer_keeps_memory_bounded(conn: Any) -> None:
    seen = 0

    async def slow(chunk: bytes) -> None:
        nonlocal seen
        seen += len(chunk)
        await asyncio.sleep(0)

    await conn.copy_from_query(
        "SELECT repeat('x', 100) FROM generate_series(1, 200000)", output=slow
    )
    assert seen == 200000 * 101


async def test_copy_out_error_and_connection_stays_usable(conn: Any) -> None:
    with pytest.raises(ferrule.DivisionByZeroError):
        await conn.copy_from_query(
            "SELECT 1 / (i - 500) FROM generate_series(1, 1000) i", output=io.BytesIO()
        )
    assert await conn.fetchval("SELECT 2") == 2


async def test_failing_output_leaves_connection_usable(conn: Any) -> None:
    async def boom(chunk: bytes) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        await conn.copy_from_query("SELECT generate_series(1, 100000)", output=boom)
    assert await conn.fetchval("SELECT 3") == 3


async def test_copy_via_execute_is_refused_clearly(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp7 (i int)")
    with pytest.raises(ferrule.Error, match="copy_to_table"):
        await conn.execute("COPY cp7 FROM STDIN")
    with pytest.raises(ferrule.Error, match="copy_from_query"):
        await conn.execute("COPY cp7 TO STDOUT")
    assert await conn.fetchval("SELECT 4") == 4


async def test_concurrent_queries_wait_for_the_copy(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE cp8 (i int)")

    async def records() -> Any:
        for i in range(20000):
            if i % 5000 == 0:
                await asyncio.sleep(0.01)
            yield (i,)

    copy = asyncio.ensure_future(conn.copy_records_to_table("cp8", records=records()))
    await asyncio.sleep(0.005)
    values = await asyncio.gather(*(conn.fetchval("SELECT $1::int", i) for i in range(50)))
    assert values == list(range(50))
    assert await copy == "COPY 20000"


async def test_large_copy_out_ends_promptly_and_later_replies_are_not_held(conn: Any) -> None:
    # Over a megabyte the reader waits for 64 KiB at a time; the last bytes (here after a
    # pause of the server) must still arrive at once, and small replies afterwards too.
    got: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        got.append(chunk)

    started = time.monotonic()
    status = await conn.copy_from_query(
        "SELECT CASE WHEN i = 3000 THEN pg_sleep(0.3)::text || 'end' ELSE repeat('x', 1000) END"
        " FROM generate_series(1, 3000) AS i",
        output=sink,
    )
    elapsed = time.monotonic() - started
    assert status == "COPY 3000"
    data = b"".join(got)
    assert data.endswith(b"\nend\n") and len(data) == 2999 * 1001 + 4
    assert elapsed < 1.5, elapsed
    started = time.monotonic()
    for i in range(200):
        assert await conn.fetchval("SELECT $1::int", i) == i
    assert time.monotonic() - started < 2.0


async def test_copy_out_binary_bytes_are_exact(conn: Any) -> None:
    # Rows cross every chunk and read boundary: the stream must be the server's, byte for byte.
    await conn.execute(
        "CREATE TEMP TABLE cp9 AS SELECT i::int8 AS a, repeat('y', i % 97) AS b "
        "FROM generate_series(1, 300000) AS i"
    )
    out = io.BytesIO()
    assert await conn.copy_from_table("cp9", output=out, format="binary") == "COPY 300000"
    data = out.getvalue()
    expected = 19 + 2 + sum(2 + 4 + 8 + 4 + i % 97 for i in range(1, 300001))
    assert len(data) == expected
    assert data.startswith(b"PGCOPY\n\xff\r\n\0") and data.endswith(b"\xff\xff")
    # Loading the stream back gives the same table.
    await conn.execute("CREATE TEMP TABLE cp10 (LIKE cp9)")
    assert await conn.copy_to_table("cp10", source=data, format="binary") == "COPY 300000"
    same = await conn.fetchval("SELECT count(*) FROM cp9 JOIN cp10 USING (a, b)")
    assert same == 300000
