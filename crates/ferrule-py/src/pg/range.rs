//! `ferrule.Range`: a PostgreSQL range value (int4range, tstzrange, ...), immutable, with
//! bounds, their inclusiveness and emptiness; also the elements of a multirange (a list).

use ferrule_core::Value;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{IntoPyObjectExt, PyTraverseError};

use crate::convert::to_value;
use crate::record::is_container;

#[pyclass(module = "ferrule._ferrule", frozen)]
pub struct Range {
    lower: Py<PyAny>,
    upper: Py<PyAny>,
    lower_inc: bool,
    upper_inc: bool,
    empty: bool,
}

impl Range {
    /// A range as the server sent it; an infinite bound (None) is never inclusive.
    pub fn create(
        py: Python<'_>,
        lower: Option<Py<PyAny>>,
        upper: Option<Py<PyAny>>,
        lower_inc: bool,
        upper_inc: bool,
    ) -> PyResult<Py<PyAny>> {
        let range = Range {
            lower_inc: lower_inc && lower.is_some(),
            upper_inc: upper_inc && upper.is_some(),
            lower: lower.unwrap_or_else(|| py.None()),
            upper: upper.unwrap_or_else(|| py.None()),
            empty: false,
        };
        let atomic = !is_container(range.lower.bind(py)) && !is_container(range.upper.bind(py));
        let obj = Bound::new(py, range)?;
        if atomic {
            // SAFETY: a fully built object whose bounds cannot close a cycle; untracked as
            // CPython untracks atomic tuples, so records of ranges stay untracked too.
            unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        }
        Ok(obj.into_any().unbind())
    }

    pub fn empty(py: Python<'_>) -> PyResult<Py<PyAny>> {
        let range = Range {
            lower: py.None(),
            upper: py.None(),
            lower_inc: false,
            upper_inc: false,
            empty: true,
        };
        let obj = Bound::new(py, range)?;
        // SAFETY: a fully built object holding only None: it cannot close a cycle.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        Ok(obj.into_any().unbind())
    }

    /// The parameter form the encoder takes for a range type.
    pub fn to_value(&self, py: Python<'_>) -> PyResult<Value> {
        Ok(Value::Map(vec![
            ("lower".into(), to_value(self.lower.bind(py))?),
            ("upper".into(), to_value(self.upper.bind(py))?),
            ("lower_inc".into(), Value::Bool(self.lower_inc)),
            ("upper_inc".into(), Value::Bool(self.upper_inc)),
            ("empty".into(), Value::Bool(self.empty)),
        ]))
    }

    fn key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.lower.clone_ref(py),
                self.upper.clone_ref(py),
                self.lower_inc.into_py_any(py)?,
                self.upper_inc.into_py_any(py)?,
                self.empty.into_py_any(py)?,
            ],
        )
    }
}

#[pymethods]
impl Range {
    /// `Range(1, 5)` is `[1,5)`; None as a bound is infinite; `Range(empty=True)` is empty.
    #[new]
    #[pyo3(signature = (lower=None, upper=None, *, lower_inc=true, upper_inc=false, empty=false))]
    fn new(
        py: Python<'_>,
        lower: Option<Py<PyAny>>,
        upper: Option<Py<PyAny>>,
        lower_inc: bool,
        upper_inc: bool,
        empty: bool,
    ) -> Range {
        if empty {
            return Range {
                lower: py.None(),
                upper: py.None(),
                lower_inc: false,
                upper_inc: false,
                empty: true,
            };
        }
        Range {
            lower_inc: lower_inc && lower.is_some(),
            upper_inc: upper_inc && upper.is_some(),
            lower: lower.unwrap_or_else(|| py.None()),
            upper: upper.unwrap_or_else(|| py.None()),
            empty: false,
        }
    }

    #[getter]
    fn lower(&self, py: Python<'_>) -> Py<PyAny> {
        self.lower.clone_ref(py)
    }

    #[getter]
    fn upper(&self, py: Python<'_>) -> Py<PyAny> {
        self.upper.clone_ref(py)
    }

    #[getter]
    fn lower_inc(&self) -> bool {
        self.lower_inc
    }

    #[getter]
    fn upper_inc(&self) -> bool {
        self.upper_inc
    }

    #[getter]
    fn lower_inf(&self, py: Python<'_>) -> bool {
        !self.empty && self.lower.is_none(py)
    }

    #[getter]
    fn upper_inf(&self, py: Python<'_>) -> bool {
        !self.empty && self.upper.is_none(py)
    }

    #[getter]
    fn isempty(&self) -> bool {
        self.empty
    }

    fn __bool__(&self) -> bool {
        !self.empty
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match other.cast::<Range>() {
            Ok(o) => Ok(self.key(py)?.eq(o.get().key(py)?)?.into_py_any(py)?),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.key(py)?.hash()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        if self.empty {
            return Ok("<Range empty>".into());
        }
        let bound = |v: &Py<PyAny>| -> PyResult<String> {
            if v.is_none(py) {
                Ok(String::new())
            } else {
                Ok(v.bind(py).repr()?.to_cow()?.into_owned())
            }
        };
        Ok(format!(
            "<Range {}{}, {}{}>",
            if self.lower_inc { '[' } else { '(' },
            bound(&self.lower)?,
            bound(&self.upper)?,
            if self.upper_inc { ']' } else { ')' },
        ))
    }

    /// Pickles as the constructor call that makes an equal range.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let make = py.import("ferrule.pg_types")?.getattr("_make_range")?;
        (make, self.key(py)?).into_bound_py_any(py)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.lower)?;
        visit.call(&self.upper)
    }
}
