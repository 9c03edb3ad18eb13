//! Record: a row, readable by index and by column name, cheap to create. A record whose
//! values are all atomic (numbers, strings, bytes, dates, None) is not tracked by the garbage
//! collector, so large results do not slow every later collection.

use std::cell::RefCell;

use ferrule_core::Value;
use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError};
use pyo3::ffi;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySlice, PyString, PyTuple, PyType};
use pyo3::{IntoPyObjectExt, PyTraverseError};

/// Column names of a result, shared by all its records.
#[pyclass(module = "ferrule._ferrule", frozen, name = "RecordDescription")]
pub struct RecordDesc {
    names: Py<PyTuple>,
    index: Py<PyDict>,
    /// Two columns share a name (they cannot both be keyword arguments).
    duplicates: bool,
}

impl RecordDesc {
    pub fn new<'a>(py: Python<'_>, names: impl Iterator<Item = &'a str>) -> PyResult<Py<Self>> {
        let names: Vec<&str> = names.collect();
        let tuple = PyTuple::new(py, &names)?;
        let index = PyDict::new(py);
        // With duplicate names the first column wins, as in asyncpg.
        for (i, n) in names.iter().enumerate().rev() {
            index.set_item(*n, i)?;
        }
        let duplicates = index.len() != names.len();
        Py::new(
            py,
            RecordDesc {
                names: tuple.unbind(),
                index: index.unbind(),
                duplicates,
            },
        )
    }

    pub fn len(&self, py: Python<'_>) -> usize {
        self.names.bind(py).len()
    }

    /// The column names, in order (the keyword names when rows build a user's class).
    pub fn names(&self) -> &Py<PyTuple> {
        &self.names
    }
}

#[pyclass(module = "ferrule._ferrule", frozen, sequence, subclass)]
pub struct Record {
    desc: Py<RecordDesc>,
    values: Box<[Py<PyAny>]>,
}

thread_local! {
    /// The record a subclass instance is being created with (see `Record::create_of`).
    static PENDING: RefCell<Option<Record>> = const { RefCell::new(None) };
}

/// Values the garbage collector tracks, and which so could close a cycle; atomic values
/// (and containers CPython or ferrule untracked, like atomic tuples and UUIDs) are not.
pub(crate) fn is_container(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading the type flags and GC state of a live object.
    unsafe {
        ffi::PyType_IS_GC(ffi::Py_TYPE(obj.as_ptr())) != 0
            && ffi::PyObject_GC_IsTracked(obj.as_ptr()) != 0
    }
}

impl Record {
    /// Creates a record and untracks it from the GC when none of its values is a container.
    pub fn create(
        py: Python<'_>,
        desc: &Py<RecordDesc>,
        values: Vec<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let any_container = values.iter().any(|v| is_container(v.bind(py)));
        let rec = Bound::new(
            py,
            Record {
                desc: desc.clone_ref(py),
                values: values.into_boxed_slice(),
            },
        )?;
        if !any_container {
            // SAFETY: the object is fully initialized and tracked; untracking a GC object that
            // cannot be part of a cycle is what CPython does for atomic tuples.
            unsafe { ffi::PyObject_GC_UnTrack(rec.as_ptr().cast()) };
        }
        Ok(rec.into_any().unbind())
    }

    /// Creates a record of `cls`, a Python subclass of Record (`record_class=`), with the
    /// subclass's own allocation; its `__new__` takes the contents from a thread-local slot.
    pub fn create_of(
        py: Python<'_>,
        cls: &Bound<'_, PyType>,
        desc: &Py<RecordDesc>,
        values: Vec<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if !cls.is_subclass_of::<Record>()? {
            return Err(PyTypeError::new_err(
                "record_class must be a subclass of ferrule.Record",
            ));
        }
        let any_container = values.iter().any(|v| is_container(v.bind(py)));
        let rec = Record {
            desc: desc.clone_ref(py),
            values: values.into_boxed_slice(),
        };
        PENDING.with(|slot| *slot.borrow_mut() = Some(rec));
        let tp = cls.as_type_ptr();
        // SAFETY: `tp` is a live type object, a subclass of Record, so its tp_new (Record's,
        // inherited, unless Python code overrides `__new__`) builds an instance of `tp`; the
        // arguments are a valid (empty) tuple.
        let obj = unsafe {
            match (*tp).tp_new {
                Some(new) => new(tp, PyTuple::empty(py).as_ptr(), std::ptr::null_mut()),
                None => std::ptr::null_mut(),
            }
        };
        // Whatever happened, the slot is empty afterwards.
        PENDING.with(|slot| slot.borrow_mut().take());
        if obj.is_null() {
            return Err(PyErr::take(py)
                .unwrap_or_else(|| PyTypeError::new_err("record_class cannot be instantiated")));
        }
        // SAFETY: a new reference just returned by tp_new.
        let obj = unsafe { Bound::from_owned_ptr(py, obj) };
        // SAFETY: reading the type's layout fields. An instance with a __dict__ may hold a
        // cycle through it, so only dict-less subclasses of atomic records are untracked.
        if !any_container && unsafe { (*tp).tp_dictoffset } == 0 && obj.is_instance(cls)? {
            unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        }
        Ok(obj.unbind())
    }

    /// Builds an instance of `cls` from one row in one vectorcall, no dict per row
    /// (`as_class=`: dataclasses, named tuples, pydantic models, ...): the columns as
    /// positional arguments when `positional` (the class's fields are the columns, in order),
    /// else as keyword arguments named after the columns.
    pub fn call_with_columns(
        py: Python<'_>,
        cls: &Bound<'_, PyAny>,
        desc: &Py<RecordDesc>,
        values: Vec<Py<PyAny>>,
        positional: bool,
    ) -> PyResult<Py<PyAny>> {
        let desc = desc.get();
        if !positional && desc.duplicates {
            return Err(PyTypeError::new_err(
                "as_class needs distinct column names (name them with AS)",
            ));
        }
        let names = desc.names.bind(py);
        if names.len() != values.len() {
            return Err(PyTypeError::new_err("row and column count differ"));
        }
        // Slot 0 is scratch space the callee may use (PY_VECTORCALL_ARGUMENTS_OFFSET).
        let mut args: Vec<*mut ffi::PyObject> = Vec::with_capacity(values.len() + 1);
        args.push(std::ptr::null_mut());
        args.extend(values.iter().map(|v| v.as_ptr()));
        let (nargs, kwnames) = if positional {
            (values.len(), std::ptr::null_mut())
        } else {
            (0, names.as_ptr())
        };
        // SAFETY: `args[1..]` are borrowed live references kept alive by `values`; with
        // keywords, `names` is a tuple of str with one name per value.
        let obj = unsafe {
            ffi::PyObject_Vectorcall(
                cls.as_ptr(),
                args.as_ptr().add(1),
                nargs | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
                kwnames,
            )
        };
        // SAFETY: a new reference or NULL with an exception set.
        unsafe { Bound::from_owned_ptr_or_err(py, obj) }.map(Bound::unbind)
    }

    /// The record as a parameter (a composite type's fields, in order).
    pub fn to_value(&self, py: Python<'_>) -> PyResult<Value> {
        self.values
            .iter()
            .map(|v| crate::convert::to_value(v.bind(py)))
            .collect::<PyResult<_>>()
            .map(Value::List)
    }

    fn position(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        if let Ok(name) = key.cast::<PyString>() {
            let desc = self.desc.get();
            return match desc.index.bind(py).get_item(name)? {
                Some(i) => Ok(Some(i.extract()?)),
                None => Ok(None),
            };
        }
        let i: isize = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "record keys are column names or indexes, not {}",
                key.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let n = self.values.len() as isize;
        let j = if i < 0 { i + n } else { i };
        Ok((0..n).contains(&j).then_some(j as usize))
    }
}

#[pymethods]
impl Record {
    /// Records come from queries; `record_class=` subclasses are built through here.
    #[new]
    fn __new__() -> PyResult<Record> {
        PENDING
            .with(|slot| slot.borrow_mut().take())
            .ok_or_else(|| PyTypeError::new_err("Record objects are created by queries"))
    }

    fn __len__(&self) -> usize {
        self.values.len()
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(slice) = key.cast::<PySlice>() {
            let idx = slice.indices(self.values.len() as isize)?;
            let mut out = Vec::with_capacity(idx.slicelength);
            let mut i = idx.start;
            for _ in 0..idx.slicelength {
                out.push(self.values[i as usize].clone_ref(py));
                i += idx.step;
            }
            return PyTuple::new(py, out)?.into_py_any(py);
        }
        match self.position(py, key)? {
            Some(i) => Ok(self.values[i].clone_ref(py)),
            None if key.is_instance_of::<PyString>() => Err(PyKeyError::new_err(format!(
                "no column named {}",
                key.repr()?
            ))),
            None => Err(PyIndexError::new_err("record index out of range")),
        }
    }

    #[pyo3(signature = (key, default=None))]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match self.position(py, key)? {
            Some(i) => Ok(self.values[i].clone_ref(py)),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        // Like a mapping: membership is by column name.
        match key.cast::<PyString>() {
            Ok(name) => self.desc.get().index.bind(py).contains(name),
            Err(_) => Ok(false),
        }
    }

    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.desc
            .get()
            .names
            .bind(py)
            .as_any()
            .try_iter()
            .map(Bound::into_any)
    }

    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyTuple::new(py, self.values.iter().map(|v| v.clone_ref(py)))?
            .as_any()
            .try_iter()
            .map(Bound::into_any)
    }

    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let names = self.desc.get().names.bind(py);
        let pairs = PyList::empty(py);
        for (i, v) in self.values.iter().enumerate() {
            pairs.append((names.get_item(i)?, v.clone_ref(py)))?;
        }
        pairs.as_any().try_iter().map(Bound::into_any)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.values(py)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        PyTuple::new(py, self.values.iter().map(|v| v.clone_ref(py)))?.hash()
    }

    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: pyo3::basic::CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let mine = PyTuple::new(py, self.values.iter().map(|v| v.clone_ref(py)))?;
        let theirs = if let Ok(rec) = other.cast::<Record>() {
            let rec = rec.get();
            PyTuple::new(py, rec.values.iter().map(|v| v.clone_ref(py)))?.into_any()
        } else if other.is_instance_of::<PyTuple>() {
            other.clone()
        } else {
            return Ok(py.NotImplemented());
        };
        Ok(mine.rich_compare(theirs, op)?.unbind())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let names = this.desc.get().names.bind(py);
        // A record_class subclass shows its own name.
        let mut s = format!("<{}", slf.get_type().name()?);
        for (i, v) in this.values.iter().enumerate() {
            let name = names.get_item(i)?;
            s.push(' ');
            s.push_str(&name.str()?.to_cow()?);
            s.push('=');
            s.push_str(&v.bind(py).repr()?.to_cow()?);
        }
        s.push('>');
        Ok(s)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for v in self.values.iter() {
            visit.call(v)?;
        }
        Ok(())
    }
}

/// Rows of a backend whose calls build only Records, turned into `record_class` instances or
/// `as_class` objects in one native call: `rows` is a list of Records, one Record, or None.
#[pyfunction]
#[pyo3(signature = (rows, record_class=None, as_class=None))]
pub fn rows_as<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyAny>,
    record_class: Option<Bound<'py, PyType>>,
    as_class: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    if rows.is_none() || (record_class.is_none() && as_class.is_none()) {
        return Ok(rows.clone());
    }
    // Whether as_class takes the columns by position, asked once for all the rows.
    let mut positional: Option<bool> = None;
    let mut convert = |rec: &Bound<'py, Record>| -> PyResult<Py<PyAny>> {
        let rec = rec.get();
        let values: Vec<Py<PyAny>> = rec.values.iter().map(|v| v.clone_ref(py)).collect();
        if let Some(cls) = &record_class {
            return Record::create_of(py, cls, &rec.desc, values);
        }
        let cls = as_class
            .as_ref()
            .expect("checked above: one class is given");
        let by_position = match positional {
            Some(p) => p,
            None => {
                let names = rec.desc.get().names.bind(py);
                let p = crate::pytypes::takes_columns_in_order(py)?
                    .call1((cls, names))?
                    .is_truthy()?;
                *positional.insert(p)
            }
        };
        Record::call_with_columns(py, cls, &rec.desc, values, by_position)
    };
    if let Ok(rec) = rows.cast::<Record>() {
        return convert(rec).map(|o| o.into_bound(py));
    }
    let list = rows.cast::<PyList>()?;
    let mut out = Vec::with_capacity(list.len());
    for item in list.iter() {
        out.push(convert(item.cast::<Record>()?)?);
    }
    Ok(PyList::new(py, out)?.into_any())
}
