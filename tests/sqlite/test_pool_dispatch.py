"""ferrule.create_pool picks the SQLite pool for a SQLite URL."""

from __future__ import annotations

from pathlib import Path

import ferrule


async def test_create_pool_with_a_sqlite_url_gives_the_sqlite_pool(tmp_path: Path) -> None:
    async with ferrule.create_pool(f"sqlite:///{tmp_path}/p.db", max_size=3) as pool:
        assert isinstance(pool, ferrule.SqlitePool)
        await pool.execute("CREATE TABLE t (a int)")
        await pool.execute("INSERT INTO t VALUES (?)", 7)
        assert await pool.fetchval("SELECT a FROM t") == 7
        assert pool.get_max_size() == 3
