//! SQLite values into Python objects on the loop thread: the five storage classes as they
//! are, and, with `detect_types`, the conversions a column's declared type asks for.

use ferrule_sqlite::CellRef;
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes};

use crate::pytypes;

type Obj = Py<PyAny>;

/// What a column's declared type asks for (with `detect_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    Plain,
    /// BOOLEAN, BOOL: integers become bool.
    Bool,
    /// DECIMAL, NUMERIC: numbers and text become `Decimal` (from their text form).
    Decimal,
    /// DATE: ISO 8601 text becomes `date`.
    Date,
    /// DATETIME, TIMESTAMP: ISO 8601 text becomes `datetime` (aware when it has an offset).
    DateTime,
    /// TIME: ISO 8601 text becomes `time`.
    Time,
    /// JSON: text is parsed with `json.loads`.
    Json,
    /// UUID: text or 16 bytes become `uuid.UUID`.
    Uuid,
}

impl Conv {
    /// The conversion for a declared type: its first word, upper-cased, without `(n, m)`.
    pub fn for_decltype(decltype: Option<&str>) -> Conv {
        let Some(t) = decltype else {
            return Conv::Plain;
        };
        let word = t
            .split(|c: char| c == '(' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match word.as_str() {
            "BOOLEAN" | "BOOL" => Conv::Bool,
            "DECIMAL" | "NUMERIC" => Conv::Decimal,
            "DATE" => Conv::Date,
            "DATETIME" | "TIMESTAMP" | "TIMESTAMPTZ" => Conv::DateTime,
            "TIME" => Conv::Time,
            "JSON" | "JSONB" => Conv::Json,
            "UUID" => Conv::Uuid,
            _ => Conv::Plain,
        }
    }
}

fn own(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<Obj> {
    // SAFETY: `ptr` is a new reference from a CPython constructor, or NULL with an exception
    // set, which `from_owned_ptr_or_err` turns into the error.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr).map(Bound::unbind) }
}

fn text(py: Python<'_>, b: &[u8]) -> PyResult<Obj> {
    // SAFETY: pointer and length describe a live slice; CPython validates the UTF-8.
    own(py, unsafe {
        ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as isize)
    })
}

/// The plain Python value of a cell.
pub fn plain(py: Python<'_>, cell: CellRef<'_>) -> PyResult<Obj> {
    match cell {
        CellRef::Null => Ok(py.None()),
        // SAFETY: CPython constructors; failures come back as NULL with an exception set.
        CellRef::Int(i) => own(py, unsafe { ffi::PyLong_FromLongLong(i) }),
        CellRef::Real(f) => own(py, unsafe { ffi::PyFloat_FromDouble(f) }),
        CellRef::Text(b) => text(py, b),
        CellRef::Blob(b) => Ok(PyBytes::new(py, b).into_any().unbind()),
    }
}

macro_rules! cached_attr {
    ($fn:ident, $module:literal, $attr:literal, $method:literal) => {
        fn $fn(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.get_or_try_init(py, || {
                Ok::<_, PyErr>(
                    py.import($module)?
                        .getattr($attr)?
                        .getattr($method)?
                        .unbind(),
                )
            })
            .map(|f| f.bind(py))
        }
    };
}

cached_attr!(date_fromisoformat, "datetime", "date", "fromisoformat");
cached_attr!(
    datetime_fromisoformat,
    "datetime",
    "datetime",
    "fromisoformat"
);
cached_attr!(time_fromisoformat, "datetime", "time", "fromisoformat");

/// The value of a cell under conversion `conv`; a value the conversion does not apply to
/// (an integer in a DATE column) is returned plain.
pub fn convert(py: Python<'_>, conv: Conv, cell: CellRef<'_>) -> PyResult<Obj> {
    let converted = match (conv, cell) {
        (Conv::Plain, c) | (_, c @ CellRef::Null) => return plain(py, c),
        (Conv::Bool, CellRef::Int(i)) => PyBool::new(py, i != 0).to_owned().into_any(),
        (Conv::Decimal, CellRef::Int(i)) => pytypes::decimal(py)?.call1((i,))?,
        (Conv::Decimal, CellRef::Real(f)) => pytypes::decimal(py)?.call1((f.to_string(),))?,
        (Conv::Decimal, CellRef::Text(b)) => pytypes::decimal(py)?.call1((text(py, b)?,))?,
        (Conv::Date, CellRef::Text(b)) => date_fromisoformat(py)?.call1((text(py, b)?,))?,
        (Conv::DateTime, CellRef::Text(b)) => datetime_fromisoformat(py)?.call1((text(py, b)?,))?,
        (Conv::Time, CellRef::Text(b)) => time_fromisoformat(py)?.call1((text(py, b)?,))?,
        (Conv::Json, CellRef::Text(b)) => pytypes::json_loads(py)?.call1((text(py, b)?,))?,
        (Conv::Uuid, CellRef::Text(b)) => pytypes::uuid(py)?.call1((text(py, b)?,))?,
        (Conv::Uuid, CellRef::Blob(b)) if b.len() == 16 => {
            pytypes::uuid(py)?.call1((py.None(), PyBytes::new(py, b)))?
        }
        (_, c) => return plain(py, c),
    };
    Ok(converted.unbind())
}

/// The error of a failed conversion, naming the column and its declared type.
pub fn conversion_error(py: Python<'_>, err: PyErr, column: &str, decltype: &str) -> PyErr {
    let msg = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    PyValueError::new_err(format!(
        "column {column:?} (declared {decltype}): cannot convert the stored value: {msg}; \
         read it without detect_types to get the stored value"
    ))
}
