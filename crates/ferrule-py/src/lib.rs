//! The native module `ferrule._ferrule`: the asyncio bridge, value conversion, `Record`,
//! error mapping and the backends' Python shells. Everything per call or per lifetime (API,
//! docstrings, DSN parsing, exception classes) lives in the Python package.

mod bridge;
mod convert;
mod errors;
mod loop_reader;
mod pg;
mod pool_native;
mod pytypes;
mod ready;
mod record;
mod settings;
mod sqlite;
mod tarantool;
mod tds;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_ferrule", gil_used = true)]
fn ferrule_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bridge::Bridge>()?;
    m.add_class::<record::Record>()?;
    m.add_class::<ready::Ready>()?;
    m.add_class::<ready::YieldingReady>()?;
    m.add_class::<record::RecordDesc>()?;
    m.add_class::<pg::connection::PgConn>()?;
    m.add_class::<pg::connection::PgStmt>()?;
    m.add_class::<pg::copy::PgCopyIn>()?;
    m.add_class::<pg::copy::PgCopyOut>()?;
    m.add_class::<pg::pool::PgPool>()?;
    m.add_class::<pg::pooled::PgPooledConn>()?;
    m.add_class::<pool_native::PoolHookCall>()?;
    m.add_class::<tarantool::connection::TntConn>()?;
    m.add_class::<tarantool::connection::TntStmt>()?;
    m.add_class::<tarantool::streams::TntPushes>()?;
    m.add_class::<tarantool::streams::TntWatcher>()?;
    m.add_class::<tarantool::pool::TntPool>()?;
    m.add_class::<tarantool::pooled::TntPooledConn>()?;
    m.add_class::<pg::range::Range>()?;
    m.add_function(wrap_pyfunction!(errors::set_error_factory, m)?)?;
    m.add_function(wrap_pyfunction!(record::rows_as, m)?)?;
    m.add_function(wrap_pyfunction!(tarantool::connection::tnt_connect, m)?)?;
    m.add_function(wrap_pyfunction!(pg::connection::pg_connect, m)?)?;
    m.add_class::<tds::connection::TdsConn>()?;
    m.add_class::<tds::connection::TdsStmt>()?;
    m.add_class::<tds::cursor::TdsCursor>()?;
    m.add_class::<tds::pool::TdsPool>()?;
    m.add_class::<tds::pooled::TdsPooledConn>()?;
    m.add_function(wrap_pyfunction!(tds::connection::tds_connect, m)?)?;
    m.add_class::<sqlite::connection::SqliteConn>()?;
    m.add_class::<sqlite::connection::SqliteStmt>()?;
    m.add_function(wrap_pyfunction!(sqlite::connection::sqlite_connect, m)?)?;
    m.add_class::<sqlite::remote::LibsqlConn>()?;
    m.add_function(wrap_pyfunction!(sqlite::remote::libsql_connect, m)?)?;
    m.add_class::<sqlite::replica::SqliteReplica>()?;
    m.add_function(wrap_pyfunction!(
        sqlite::replica::sqlite_replica_connect,
        m
    )?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
