//! The schema cache: spaces and indexes by id and by name, read from `_vspace` and `_vindex`,
//! tagged with the server's schema version it was read at.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use ferrule_core::Error;

use crate::mp::{MpReader, MpValue};

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub type_name: String,
    pub is_nullable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub id: u32,
    pub name: String,
    /// `tree`, `hash`, `rtree`, `bitset`.
    pub kind: String,
    pub unique: bool,
    /// `(field number from 0, type)` of each key part.
    pub parts: Vec<(u32, String)>,
}

pub struct Space {
    pub id: u32,
    pub name: String,
    pub engine: String,
    /// The space format: empty when the space has none.
    pub fields: Vec<Field>,
    pub indexes: Vec<Arc<Index>>,
    /// Whatever the binding layer keeps with the space (its record description).
    pub binding_cache: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("fields", &self.fields)
            .field("indexes", &self.indexes)
            .finish()
    }
}

impl Space {
    pub fn index_by_name(&self, name: &str) -> Option<&Arc<Index>> {
        self.indexes.iter().find(|i| i.name == name)
    }
    pub fn index_by_id(&self, id: u32) -> Option<&Arc<Index>> {
        self.indexes.iter().find(|i| i.id == id)
    }
    /// The number (from 0) of the field named `name`.
    pub fn field_number(&self, name: &str) -> Option<u32> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map(|p| p as u32)
    }
}

/// A snapshot of the server's spaces; replaced whole when the server's schema changes.
#[derive(Debug, Default)]
pub struct Schema {
    pub version: u64,
    pub by_id: HashMap<u32, Arc<Space>>,
    pub by_name: HashMap<String, Arc<Space>>,
}

/// A space given by the caller: by name (resolved through the schema) or by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceRef {
    Id(u32),
    Name(String),
}

/// An index given by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexRef {
    Id(u32),
    Name(String),
}

impl Schema {
    /// Builds the schema from the data arrays of `select _vspace` and `select _vindex`.
    pub fn from_rows(version: u64, vspace: &[u8], vindex: &[u8]) -> Result<Schema, Error> {
        let bad = |what: &str| Error::protocol(format!("unexpected {what} row in the schema"));
        let mut indexes: HashMap<u32, Vec<Arc<Index>>> = HashMap::new();
        let rows = MpReader::new(vindex).read_value()?;
        for row in rows.as_array().ok_or_else(|| bad("_vindex"))? {
            let t = row.as_array().ok_or_else(|| bad("_vindex"))?;
            let (Some(space), Some(id), Some(name)) = (
                t.first().and_then(MpValue::as_u64),
                t.get(1).and_then(MpValue::as_u64),
                t.get(2).and_then(MpValue::as_str),
            ) else {
                return Err(bad("_vindex"));
            };
            let unique = t
                .get(4)
                .and_then(|o| o.get_str("unique"))
                .and_then(MpValue::as_bool)
                .unwrap_or(true);
            let parts = t.get(5).and_then(MpValue::as_array).unwrap_or(&[]);
            let parts = parts
                .iter()
                .filter_map(|p| match p {
                    MpValue::Array(a) => Some((
                        a.first().and_then(MpValue::as_u64)? as u32,
                        a.get(1).and_then(MpValue::as_str).unwrap_or("").to_owned(),
                    )),
                    MpValue::Map(_) => Some((
                        p.get_str("field").and_then(MpValue::as_u64)? as u32,
                        p.get_str("type")
                            .and_then(MpValue::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )),
                    _ => None,
                })
                .collect();
            indexes
                .entry(space as u32)
                .or_default()
                .push(Arc::new(Index {
                    id: id as u32,
                    name: name.to_owned(),
                    kind: t.get(3).and_then(MpValue::as_str).unwrap_or("").to_owned(),
                    unique,
                    parts,
                }));
        }
        let mut schema = Schema {
            version,
            ..Schema::default()
        };
        let rows = MpReader::new(vspace).read_value()?;
        for row in rows.as_array().ok_or_else(|| bad("_vspace"))? {
            let t = row.as_array().ok_or_else(|| bad("_vspace"))?;
            let (Some(id), Some(name)) = (
                t.first().and_then(MpValue::as_u64),
                t.get(2).and_then(MpValue::as_str),
            ) else {
                return Err(bad("_vspace"));
            };
            let fields = t
                .get(6)
                .and_then(MpValue::as_array)
                .unwrap_or(&[])
                .iter()
                .map(|f| Field {
                    name: f
                        .get_str("name")
                        .and_then(MpValue::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    type_name: f
                        .get_str("type")
                        .and_then(MpValue::as_str)
                        .unwrap_or("any")
                        .to_owned(),
                    is_nullable: f
                        .get_str("is_nullable")
                        .and_then(MpValue::as_bool)
                        .unwrap_or(false),
                })
                .collect();
            let mut idx = indexes.remove(&(id as u32)).unwrap_or_default();
            idx.sort_by_key(|i| i.id);
            let space = Arc::new(Space {
                id: id as u32,
                name: name.to_owned(),
                engine: t.get(3).and_then(MpValue::as_str).unwrap_or("").to_owned(),
                fields,
                indexes: idx,
                binding_cache: OnceLock::new(),
            });
            schema.by_name.insert(space.name.clone(), space.clone());
            schema.by_id.insert(space.id, space);
        }
        Ok(schema)
    }

    pub fn space(&self, r: &SpaceRef) -> Result<&Arc<Space>, Error> {
        let found = match r {
            SpaceRef::Id(id) => self.by_id.get(id),
            SpaceRef::Name(n) => self.by_name.get(n),
        };
        found.ok_or_else(|| {
            let what = match r {
                SpaceRef::Id(id) => format!("id {id}"),
                SpaceRef::Name(n) => format!("{n:?}"),
            };
            Error::new(
                ferrule_core::ErrorKind::Database,
                format!("space {what} does not exist"),
            )
            .with_code("36")
        })
    }

    pub fn index(&self, space: &Space, r: &IndexRef) -> Result<u32, Error> {
        let found = match r {
            IndexRef::Id(id) => return Ok(*id),
            IndexRef::Name(n) => space.index_by_name(n),
        };
        found.map(|i| i.id).ok_or_else(|| {
            Error::new(
                ferrule_core::ErrorKind::Database,
                format!("index {r:?} does not exist in space {:?}", space.name),
            )
            .with_code("35")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::MpWriter;

    #[test]
    fn from_system_space_rows() {
        let mut vspace = Vec::new();
        let mut w = MpWriter(&mut vspace);
        w.array(1);
        w.array(7);
        w.uint(512);
        w.uint(1);
        w.str("tester");
        w.str("memtx");
        w.uint(0);
        w.map(0);
        w.array(2);
        for (n, t) in [("id", "unsigned"), ("name", "string")] {
            w.map(2);
            w.str("name");
            w.str(n);
            w.str("type");
            w.str(t);
        }
        let mut vindex = Vec::new();
        let mut w = MpWriter(&mut vindex);
        w.array(2);
        w.array(6);
        w.uint(512);
        w.uint(0);
        w.str("primary");
        w.str("tree");
        w.map(1);
        w.str("unique");
        w.bool(true);
        w.array(1);
        w.array(2);
        w.uint(0);
        w.str("unsigned");
        w.array(6);
        w.uint(512);
        w.uint(1);
        w.str("by_name");
        w.str("tree");
        w.map(1);
        w.str("unique");
        w.bool(false);
        w.array(1);
        w.map(2);
        w.str("field");
        w.uint(1);
        w.str("type");
        w.str("string");

        let s = Schema::from_rows(80, &vspace, &vindex).unwrap();
        let sp = s.space(&SpaceRef::Name("tester".into())).unwrap();
        assert_eq!(sp.id, 512);
        assert_eq!(sp.field_number("name"), Some(1));
        assert_eq!(s.index(sp, &IndexRef::Name("by_name".into())).unwrap(), 1);
        assert!(!sp.indexes[1].unique);
        assert_eq!(sp.indexes[1].parts, vec![(1, "string".to_owned())]);
        assert!(s.space(&SpaceRef::Name("nope".into())).is_err());
        assert!(s.index(sp, &IndexRef::Name("nope".into())).is_err());
        assert!(Schema::from_rows(1, &[0x91, 0x01], &[0x90]).is_err());
    }
}
