//! Types beyond the plain built-ins: ranges, multiranges, composites, domains, enums, hstore,
//! geometric and bit-string types, arrays of all of them, and types with a user codec.
//!
//! Each connection keeps a registry of them. Built-in ones come from a static table; any other
//! OID a statement uses is looked up in pg_catalog once (`typeload.rs`) and cached. A type
//! travels in binary format when ferrule has a binary codec for every type in its tree, and in
//! text format otherwise.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::types::{self, Oid};

pub const POINT: Oid = 600;
pub const LSEG: Oid = 601;
pub const PATH: Oid = 602;
pub const BOX: Oid = 603;
pub const POLYGON: Oid = 604;
pub const LINE: Oid = 628;
pub const CIRCLE: Oid = 718;
pub const BIT: Oid = 1560;
pub const VARBIT: Oid = 1562;
/// An anonymous record (`SELECT ROW(1, 'a')`): its binary form names each field's type.
pub const RECORD: Oid = 2249;

/// A type as ferrule reads and writes it.
pub struct PgType {
    pub oid: Oid,
    /// `schema.name`, for error messages.
    pub name: String,
    pub kind: TypeKind,
    /// Values travel in binary format (every type of the tree has a binary codec).
    pub binary: bool,
    /// A slot for the binding layer (e.g. the record description of a composite type).
    pub binding_cache: OnceLock<Box<dyn Any + Send + Sync>>,
}

pub enum TypeKind {
    /// A built-in type ferrule has a binary codec for, chosen by its OID.
    Builtin,
    /// Read and written in text form: money, tsvector, types ferrule has no codec for, and
    /// types with a user codec in text format.
    Text,
    /// Binary form is the label.
    Enum,
    /// A domain, or a type told to use a built-in codec: handled as this other type.
    Domain(Arc<PgType>),
    Array(Arc<PgType>),
    Range(Arc<PgType>),
    /// Of the range type.
    Multirange(Arc<PgType>),
    Composite(Vec<Field>),
    Hstore,
    /// A user codec exchanging the binary form as bytes.
    UserBinary,
}

pub struct Field {
    pub name: String,
    pub ty: Arc<PgType>,
}

impl std::fmt::Debug for PgType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgType({} {})", self.oid, self.name)
    }
}

impl PgType {
    pub fn new(oid: Oid, name: impl Into<String>, kind: TypeKind) -> PgType {
        let binary = match &kind {
            TypeKind::Builtin | TypeKind::Enum | TypeKind::Hstore | TypeKind::UserBinary => true,
            TypeKind::Text => false,
            TypeKind::Domain(t)
            | TypeKind::Array(t)
            | TypeKind::Range(t)
            | TypeKind::Multirange(t) => t.binary,
            TypeKind::Composite(fields) => fields.iter().all(|f| f.ty.binary),
        };
        PgType {
            oid,
            name: name.into(),
            kind,
            binary,
            binding_cache: OnceLock::new(),
        }
    }

    /// The type values are actually encoded as: domains resolved to their base.
    pub fn base(&self) -> &PgType {
        match &self.kind {
            TypeKind::Domain(b) => b.base(),
            _ => self,
        }
    }
}

/// A built-in scalar with ferrule's own codec, as a registry entry.
fn builtin(oid: Oid, name: &str) -> Arc<PgType> {
    Arc::new(PgType::new(
        oid,
        format!("pg_catalog.{name}"),
        TypeKind::Builtin,
    ))
}

fn text_type(oid: Oid, name: &str) -> Arc<PgType> {
    Arc::new(PgType::new(oid, name.to_owned(), TypeKind::Text))
}

/// A plain built-in (a scalar or an array of scalars that the fast path handles) as a tree
/// node, for when it is the subtype of a range or the field of a composite.
fn plain(oid: Oid) -> Arc<PgType> {
    match types::array_element(oid) {
        Some(elem) => Arc::new(PgType::new(
            oid,
            format!("pg_catalog.{}[]", crate::encode::type_label(elem)),
            TypeKind::Array(plain(elem)),
        )),
        None => Arc::new(PgType::new(
            oid,
            crate::encode::type_label(oid),
            TypeKind::Builtin,
        )),
    }
}

/// Built-in types beyond the plain ones, by OID: fixed in every PostgreSQL release.
fn static_types() -> &'static HashMap<Oid, Arc<PgType>> {
    static TABLE: OnceLock<HashMap<Oid, Arc<PgType>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        let mut add = |t: Arc<PgType>, array: Oid| {
            let arr = Arc::new(PgType::new(
                array,
                format!("{}[]", t.name),
                TypeKind::Array(t.clone()),
            ));
            m.insert(array, arr);
            m.insert(t.oid, t);
        };
        let ranges = [
            (
                3904,
                3905,
                "int4range",
                types::INT4,
                4451,
                6150,
                "int4multirange",
            ),
            (
                3926,
                3927,
                "int8range",
                types::INT8,
                4536,
                6157,
                "int8multirange",
            ),
            (
                3906,
                3907,
                "numrange",
                types::NUMERIC,
                4532,
                6151,
                "nummultirange",
            ),
            (
                3908,
                3909,
                "tsrange",
                types::TIMESTAMP,
                4533,
                6152,
                "tsmultirange",
            ),
            (
                3910,
                3911,
                "tstzrange",
                types::TIMESTAMPTZ,
                4534,
                6153,
                "tstzmultirange",
            ),
            (
                3912,
                3913,
                "daterange",
                types::DATE,
                4535,
                6155,
                "datemultirange",
            ),
        ];
        for (oid, arr, name, sub, moid, marr, mname) in ranges {
            let range = Arc::new(PgType::new(
                oid,
                format!("pg_catalog.{name}"),
                TypeKind::Range(plain(sub)),
            ));
            let multi = Arc::new(PgType::new(
                moid,
                format!("pg_catalog.{mname}"),
                TypeKind::Multirange(range.clone()),
            ));
            add(range, arr);
            add(multi, marr);
        }
        let builtins = [
            (POINT, 1017, "point"),
            (LSEG, 1018, "lseg"),
            (PATH, 1019, "path"),
            (BOX, 1020, "box"),
            (POLYGON, 1027, "polygon"),
            (LINE, 629, "line"),
            (CIRCLE, 719, "circle"),
            (BIT, 1561, "bit"),
            (VARBIT, 1563, "varbit"),
            (RECORD, 2287, "record"),
        ];
        for (oid, arr, name) in builtins {
            add(builtin(oid, name), arr);
        }
        let texts = [
            (790, 791, "money"),
            (3614, 3643, "tsvector"),
            (3615, 3645, "tsquery"),
            (24, 1008, "regproc"),
            (2205, 2210, "regclass"),
            (2206, 2211, "regtype"),
            (3220, 3221, "pg_lsn"),
            (829, 1040, "macaddr"),
            (774, 775, "macaddr8"),
        ];
        for (oid, arr, name) in texts {
            add(text_type(oid, &format!("pg_catalog.{name}")), arr);
        }
        m
    })
}

/// What a user asked for a type: its own codec (text or binary), or a built-in codec.
#[derive(Clone)]
pub enum Override {
    Text,
    Binary,
    /// Handle values as this type (`set_builtin_type_codec`).
    Like(Arc<PgType>),
}

/// How a statement handles one parameter or column type.
pub enum Resolved {
    /// A plain built-in: the fast path, binary format.
    Plain,
    Typed(Arc<PgType>),
}

impl Resolved {
    pub fn format(&self) -> i16 {
        match self {
            Resolved::Plain => 1,
            Resolved::Typed(t) => i16::from(t.binary),
        }
    }

    pub fn into_type(self) -> Option<Arc<PgType>> {
        match self {
            Resolved::Plain => None,
            Resolved::Typed(t) => Some(t),
        }
    }
}

/// The types a connection has met, and the codecs its user chose.
#[derive(Default)]
pub struct TypeRegistry {
    state: Mutex<RegistryState>,
}

#[derive(Default)]
struct RegistryState {
    types: HashMap<Oid, Arc<PgType>>,
    overrides: HashMap<Oid, Override>,
}

impl TypeRegistry {
    /// How `oid` is handled, or None when it must be looked up in pg_catalog first.
    /// `text_oids` are types the user reads through a text codec.
    pub fn resolve(&self, oid: Oid, text_oids: &[Oid]) -> Option<Resolved> {
        let state = self.state.lock();
        state.resolve(oid, text_oids).map(|r| match r {
            Some(t) => Resolved::Typed(t),
            None => Resolved::Plain,
        })
    }

    /// Records types read from pg_catalog, building each tree from its parts.
    pub(crate) fn insert_loaded(&self, raw: &HashMap<Oid, RawType>, text_oids: &[Oid]) {
        let mut state = self.state.lock();
        for &oid in raw.keys() {
            state.build(oid, raw, text_oids, 0);
        }
    }

    /// Sets or clears the user's choice for `oid`; every derived type is forgotten, so
    /// containers of it are rebuilt on their next use.
    pub fn set_override(&self, oid: Oid, choice: Option<Override>) {
        let mut state = self.state.lock();
        match choice {
            Some(c) => state.overrides.insert(oid, c),
            None => state.overrides.remove(&oid),
        };
        state.types.clear();
    }

    /// Forgets every type read from pg_catalog (after `ALTER TYPE`, say); user choices stay.
    pub fn clear(&self) {
        self.state.lock().types.clear();
    }
}

/// One row group of the pg_catalog lookup.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawType {
    pub name: String,
    /// pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange.
    pub typtype: u8,
    pub elem: Oid,
    pub base: Oid,
    pub range_subtype: Oid,
    pub multirange_of: Oid,
    pub fields: Vec<(String, Oid)>,
}

/// Trees deeper than this are read as text (guards against a broken catalog).
const MAX_DEPTH: usize = 32;

impl RegistryState {
    /// `Some(None)` plain, `Some(Some(t))` typed, `None` unknown.
    fn resolve(&self, oid: Oid, text_oids: &[Oid]) -> Option<Option<Arc<PgType>>> {
        if text_oids.contains(&oid) {
            return Some(Some(text_type(oid, "a type with a text codec")));
        }
        if let Some(choice) = self.overrides.get(&oid) {
            return Some(Some(overridden(oid, choice)));
        }
        if types::is_binary(oid) {
            // An array of a type the user chose a codec for goes through the elements' codec.
            let custom_elem = types::array_element(oid)
                .is_some_and(|e| text_oids.contains(&e) || self.overrides.contains_key(&e));
            if !custom_elem {
                return Some(None);
            }
            let elem = self.resolve(types::array_element(oid)?, text_oids)??;
            let name = format!("{}[]", elem.name);
            return Some(Some(Arc::new(PgType::new(
                oid,
                name,
                TypeKind::Array(elem),
            ))));
        }
        if let Some(t) = self.types.get(&oid) {
            return Some(Some(t.clone()));
        }
        static_types().get(&oid).map(|t| Some(t.clone()))
    }

    /// The tree of `oid`, from the cache, the static table or `raw`; unknown parts are text.
    fn build(
        &mut self,
        oid: Oid,
        raw: &HashMap<Oid, RawType>,
        text_oids: &[Oid],
        depth: usize,
    ) -> Arc<PgType> {
        match self.resolve(oid, text_oids) {
            Some(Some(t)) => return t,
            Some(None) => return plain(oid),
            None => {}
        }
        let Some(r) = raw.get(&oid) else {
            return text_type(oid, "an unknown type");
        };
        if depth > MAX_DEPTH {
            return text_type(oid, &r.name);
        }
        let mut sub = |o: Oid| self.build(o, raw, text_oids, depth + 1);
        let kind = match r.typtype {
            b'e' => TypeKind::Enum,
            b'd' if r.base != 0 => TypeKind::Domain(sub(r.base)),
            b'r' if r.range_subtype != 0 => TypeKind::Range(sub(r.range_subtype)),
            b'm' if r.multirange_of != 0 => TypeKind::Multirange(sub(r.multirange_of)),
            b'c' => TypeKind::Composite(
                r.fields
                    .iter()
                    .map(|(name, o)| Field {
                        name: name.clone(),
                        ty: sub(*o),
                    })
                    .collect(),
            ),
            b'b' if r.elem != 0 => TypeKind::Array(sub(r.elem)),
            b'b' if r.name.ends_with(".hstore") => TypeKind::Hstore,
            // citext's binary form is text's.
            b'b' if r.name.ends_with(".citext") => TypeKind::Domain(plain(types::TEXT)),
            _ => TypeKind::Text,
        };
        let t = Arc::new(PgType::new(oid, r.name.clone(), kind));
        self.types.insert(oid, t.clone());
        t
    }
}

fn overridden(oid: Oid, choice: &Override) -> Arc<PgType> {
    let name = "a type with a user codec";
    Arc::new(match choice {
        Override::Text => PgType::new(oid, name, TypeKind::Text),
        Override::Binary => PgType::new(oid, name, TypeKind::UserBinary),
        Override::Like(t) => PgType::new(oid, name, TypeKind::Domain(t.clone())),
    })
}

/// The type a built-in codec name stands for (`set_builtin_type_codec`): `int4`, `text`,
/// `point`, `hstore`, ... (an optional `pg_catalog.` or `pg_contrib.` prefix is ignored).
pub fn builtin_codec(name: &str) -> Option<Arc<PgType>> {
    let bare = name
        .strip_prefix("pg_catalog.")
        .or_else(|| name.strip_prefix("pg_contrib."))
        .unwrap_or(name);
    let oid = match bare {
        "hstore" => return Some(Arc::new(PgType::new(0, "hstore", TypeKind::Hstore))),
        "bool" => types::BOOL,
        "bytea" => types::BYTEA,
        "char" => types::CHAR,
        "name" => types::NAME,
        "int8" => types::INT8,
        "int2" => types::INT2,
        "int4" => types::INT4,
        "text" => types::TEXT,
        "oid" => types::OID,
        "xid" => types::XID,
        "json" => types::JSON,
        "jsonb" => types::JSONB,
        "xml" => types::XML,
        "cidr" => types::CIDR,
        "inet" => types::INET,
        "float4" => types::FLOAT4,
        "float8" => types::FLOAT8,
        "bpchar" => types::BPCHAR,
        "varchar" => types::VARCHAR,
        "date" => types::DATE,
        "time" => types::TIME,
        "timetz" => types::TIMETZ,
        "timestamp" => types::TIMESTAMP,
        "timestamptz" => types::TIMESTAMPTZ,
        "interval" => types::INTERVAL,
        "numeric" => types::NUMERIC,
        "uuid" => types::UUID,
        "point" => POINT,
        "lseg" => LSEG,
        "path" => PATH,
        "box" => BOX,
        "polygon" => POLYGON,
        "line" => LINE,
        "circle" => CIRCLE,
        "bit" => BIT,
        "varbit" => VARBIT,
        _ => return None,
    };
    Some(
        static_types()
            .get(&oid)
            .cloned()
            .unwrap_or_else(|| plain(oid)),
    )
}

/// The type of a field of an anonymous record, known from its OID alone (no lookup).
pub fn known_type(oid: Oid) -> Option<Arc<PgType>> {
    if types::is_binary(oid) {
        return Some(plain(oid));
    }
    static_types().get(&oid).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_ranges_are_binary_trees() {
        let state = RegistryState::default();
        let t = state.resolve(3905, &[]).unwrap().unwrap();
        let TypeKind::Array(range) = &t.kind else {
            panic!("int4range[] is an array")
        };
        assert!(matches!(range.kind, TypeKind::Range(_)));
        assert!(t.binary);
        assert!(state.resolve(types::INT4, &[]).unwrap().is_none());
        assert!(state.resolve(99_999, &[]).is_none());
    }

    #[test]
    fn composite_with_a_text_field_is_text() {
        let mut state = RegistryState::default();
        let mut raw = HashMap::new();
        raw.insert(
            70_000,
            RawType {
                name: "public.pair".into(),
                typtype: b'c',
                fields: vec![("a".into(), types::INT4), ("m".into(), 790)],
                ..RawType::default()
            },
        );
        let t = state.build(70_000, &raw, &[], 0);
        assert!(!t.binary);
        raw.get_mut(&70_000).unwrap().fields.pop();
        state.types.clear();
        assert!(state.build(70_000, &raw, &[], 0).binary);
    }

    #[test]
    fn user_text_codec_makes_containers_text() {
        let mut state = RegistryState::default();
        let mut raw = HashMap::new();
        raw.insert(
            70_001,
            RawType {
                name: "public.mood".into(),
                typtype: b'e',
                ..RawType::default()
            },
        );
        raw.insert(
            70_002,
            RawType {
                name: "public._mood".into(),
                typtype: b'b',
                elem: 70_001,
                ..RawType::default()
            },
        );
        assert!(state.build(70_002, &raw, &[], 0).binary);
        state.types.clear();
        assert!(!state.build(70_002, &raw, &[70_001], 0).binary);
    }

    #[test]
    fn builtin_codec_names() {
        assert_eq!(builtin_codec("int4").unwrap().oid, types::INT4);
        assert_eq!(builtin_codec("pg_catalog.point").unwrap().oid, POINT);
        assert!(matches!(
            builtin_codec("pg_contrib.hstore").unwrap().kind,
            TypeKind::Hstore
        ));
        assert!(builtin_codec("nope").is_none());
    }
}
