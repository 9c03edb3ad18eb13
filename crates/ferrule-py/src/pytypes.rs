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
