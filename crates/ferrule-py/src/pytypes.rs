//! Python classes and functions the codecs use, looked up once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

macro_rules! cached_type {
    ($fn:ident, $module:literal, $attr:literal) => {
        pub fn $fn(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CELL.import(py, $module, $attr)
        }
    };
}

macro_rules! cached_fn {
    ($fn:ident, $module:literal, $attr:literal) => {
        pub fn $fn(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.import(py, $module, $attr)
        }
    };
}

cached_type!(decimal, "decimal", "Decimal");
cached_type!(uuid, "uuid", "UUID");
cached_type!(ipv4_address, "ipaddress", "IPv4Address");
cached_type!(ipv6_address, "ipaddress", "IPv6Address");
cached_type!(ipv4_network, "ipaddress", "IPv4Network");
cached_type!(ipv6_network, "ipaddress", "IPv6Network");
cached_type!(ipv4_interface, "ipaddress", "IPv4Interface");
cached_type!(ipv6_interface, "ipaddress", "IPv6Interface");
cached_fn!(json_loads, "json", "loads");
cached_fn!(ip_address, "ipaddress", "ip_address");
cached_fn!(ip_interface, "ipaddress", "ip_interface");
cached_fn!(ip_network, "ipaddress", "ip_network");

cached_fn!(safe_uuid_unknown_cls, "uuid", "SafeUUID");

/// A `uuid.UUID` built the way `UUID.__init__` ends (setting `int` and `is_safe` through
/// `object.__setattr__`), without its argument parsing: several times faster per value.
pub fn new_uuid(py: Python<'_>, value: u128) -> PyResult<Py<PyAny>> {
    static UNKNOWN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let unknown = UNKNOWN.get_or_try_init(py, || {
        safe_uuid_unknown_cls(py)?
            .getattr("unknown")
            .map(Bound::unbind)
    })?;
    let cls = uuid(py)?;
    // SAFETY: allocating an instance of a heap type with its own allocator is what
    // `object.__new__(UUID)` does (UUID has no abstract methods to refuse it).
    let obj = unsafe {
        let tp = cls.as_ptr().cast::<pyo3::ffi::PyTypeObject>();
        let alloc = (*tp).tp_alloc.unwrap_or(pyo3::ffi::PyType_GenericAlloc);
        Bound::from_owned_ptr_or_err(py, alloc(tp, 0))?
    };
    let int = value.into_pyobject(py)?;
    // SAFETY: plain attribute stores on a live instance through the generic setter, which is
    // exactly `object.__setattr__`; the names and values are live objects.
    unsafe {
        let rc = pyo3::ffi::PyObject_GenericSetAttr(
            obj.as_ptr(),
            pyo3::intern!(py, "int").as_ptr(),
            int.as_ptr(),
        );
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        let rc = pyo3::ffi::PyObject_GenericSetAttr(
            obj.as_ptr(),
            pyo3::intern!(py, "is_safe").as_ptr(),
            unknown.as_ptr(),
        );
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        // Its slots hold only the int and the SafeUUID member set here, and it has no
        // __dict__: it cannot close a cycle, so the collector need not track it.
        pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast());
    }
    Ok(obj.unbind())
}

// Geometric types are small Python classes (named tuples) in the public package.
cached_fn!(pg_point, "ferrule.pg_types", "Point");
cached_fn!(pg_line, "ferrule.pg_types", "Line");
cached_fn!(pg_line_segment, "ferrule.pg_types", "LineSegment");
cached_fn!(pg_box, "ferrule.pg_types", "Box");
cached_fn!(pg_path, "ferrule.pg_types", "Path");
cached_fn!(pg_polygon, "ferrule.pg_types", "Polygon");
cached_fn!(pg_circle, "ferrule.pg_types", "Circle");
cached_fn!(
    takes_columns_in_order,
    "ferrule._rowclass",
    "takes_columns_in_order"
);
