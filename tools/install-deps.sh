#!/usr/bin/env bash
# Installs what `make` needs and is missing: Debian packages (when root) and the virtualenv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."

need_apt=()
command -v pg_ctl >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/pg_ctl ] || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql postgresql-contrib)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The Tarantool test server (Debian ships 2.6).
command -v tarantool >/dev/null 2>&1 || need_apt+=(tarantool)
command -v pgbench >/dev/null 2>&1 || need_apt+=(postgresql-contrib)
# FreeTDS: `tsql` is one of the independent clients that prove the TDS test server honest.
command -v tsql >/dev/null 2>&1 || need_apt+=(freetds-bin)
[ -f /usr/include/sybdb.h ] || need_apt+=(freetds-dev)
# The bundled SQLite is SQLCipher's, which links the system libcrypto.
[ -f /usr/include/openssl/evp.h ] || need_apt+=(libssl-dev)
# FreeTDS's ODBC driver (registered as "FreeTDS") and unixODBC, for aioodbc in the SQL Server
# benchmark; the headers let pip build pyodbc where no wheel fits.
ls /usr/lib/*/odbc/libtdsodbc.so >/dev/null 2>&1 || need_apt+=(tdsodbc)
[ -f /usr/include/sql.h ] || need_apt+=(unixodbc-dev)
# The pgbouncer-mode tests put Debian's pgbouncer in front of the test cluster.
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
# As root the test harness runs the server as `postgres` through runuser.
[ "$(id -u)" != 0 ] || command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian packages: ${need_apt[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "missing Debian packages (run as root to install): ${need_apt[*]}" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
stamp="$VENV/.deps-$(sha1sum requirements-dev.txt | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
    touch "$stamp"
fi
