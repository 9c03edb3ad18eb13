//! TYPE_INFO (MS-TDS 2.2.5.6): how a column or parameter's type is described, and how long
//! each of its values is on the wire. Values stay as raw bytes; `decode` reads them.

use std::borrow::Cow;

use crate::wire::{bad, Cur, DResult, DecodeError};

/// Data type codes (MS-TDS 2.2.5.4).
pub mod code {
    pub const NULL: u8 = 0x1F;
    pub const INT1: u8 = 0x30;
    pub const BIT: u8 = 0x32;
    pub const INT2: u8 = 0x34;
    pub const INT4: u8 = 0x38;
    pub const DATETIM4: u8 = 0x3A;
    pub const FLT4: u8 = 0x3B;
    pub const MONEY: u8 = 0x3C;
    pub const DATETIME: u8 = 0x3D;
    pub const FLT8: u8 = 0x3E;
    pub const MONEY4: u8 = 0x7A;
    pub const INT8: u8 = 0x7F;
    pub const GUID: u8 = 0x24;
    pub const INTN: u8 = 0x26;
    pub const DECIMAL: u8 = 0x37;
    pub const NUMERIC: u8 = 0x3F;
    pub const BITN: u8 = 0x68;
    pub const DECIMALN: u8 = 0x6A;
    pub const NUMERICN: u8 = 0x6C;
    pub const FLTN: u8 = 0x6D;
    pub const MONEYN: u8 = 0x6E;
    pub const DATETIMN: u8 = 0x6F;
    pub const DATEN: u8 = 0x28;
    pub const TIMEN: u8 = 0x29;
    pub const DATETIME2N: u8 = 0x2A;
    pub const DATETIMEOFFSETN: u8 = 0x2B;
    pub const CHAR: u8 = 0x2F;
    pub const VARCHAR: u8 = 0x27;
    pub const BINARY: u8 = 0x2D;
    pub const VARBINARY: u8 = 0x25;
    pub const BIGVARBINARY: u8 = 0xA5;
    pub const BIGVARCHAR: u8 = 0xA7;
    pub const BIGBINARY: u8 = 0xAD;
    pub const BIGCHAR: u8 = 0xAF;
    pub const NVARCHAR: u8 = 0xE7;
    pub const NCHAR: u8 = 0xEF;
    pub const XML: u8 = 0xF1;
    pub const UDT: u8 = 0xF0;
    pub const TEXT: u8 = 0x23;
    pub const IMAGE: u8 = 0x22;
    pub const NTEXT: u8 = 0x63;
    pub const SSVARIANT: u8 = 0x62;
}

/// How the length of one value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenKind {
    /// Always this many bytes (0 for the NULL type).
    Fixed(u8),
    /// A one-byte length; 0 is NULL.
    Byte,
    /// A two-byte length; 0xFFFF is NULL.
    UShort,
    /// text / ntext / image: a text pointer, a timestamp, then a four-byte length.
    Long,
    /// Partially length-prefixed: (max) types, xml, CLR types.
    Plp,
    /// sql_variant: a four-byte length; 0 is NULL.
    Variant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub code: u8,
    pub len_kind: LenKind,
    /// Declared maximum length in bytes (0xFFFF for the (max) types), or the fixed size.
    pub max_len: u32,
    pub precision: u8,
    pub scale: u8,
    pub collation: Option<[u8; 5]>,
}

impl TypeInfo {
    pub fn fixed(code: u8, size: u8) -> TypeInfo {
        TypeInfo {
            code,
            len_kind: LenKind::Fixed(size),
            max_len: u32::from(size),
            precision: 0,
            scale: 0,
            collation: None,
        }
    }

    /// The fixed size of a fixed-length type code.
    pub fn fixed_size(c: u8) -> Option<u8> {
        Some(match c {
            code::NULL => 0,
            code::INT1 | code::BIT => 1,
            code::INT2 => 2,
            code::INT4 | code::DATETIM4 | code::FLT4 | code::MONEY4 => 4,
            code::MONEY | code::DATETIME | code::FLT8 | code::INT8 => 8,
            _ => return None,
        })
    }

    /// Parses a TYPE_INFO. Table names of text/ntext/image columns are not part of it (see
    /// `colmetadata`).
    pub fn parse(c: &mut Cur<'_>) -> DResult<TypeInfo> {
        let t = c.u8()?;
        if let Some(size) = Self::fixed_size(t) {
            return Ok(Self::fixed(t, size));
        }
        let mut ti = TypeInfo {
            code: t,
            len_kind: LenKind::Byte,
            max_len: 0,
            precision: 0,
            scale: 0,
            collation: None,
        };
        match t {
            code::GUID
            | code::INTN
            | code::BITN
            | code::FLTN
            | code::MONEYN
            | code::DATETIMN
            | code::CHAR
            | code::VARCHAR
            | code::BINARY
            | code::VARBINARY => {
                ti.max_len = u32::from(c.u8()?);
            }
            code::DECIMAL | code::NUMERIC | code::DECIMALN | code::NUMERICN => {
                ti.max_len = u32::from(c.u8()?);
                ti.precision = c.u8()?;
                ti.scale = c.u8()?;
                if ti.precision == 0 || ti.precision > 38 || ti.scale > ti.precision {
                    return bad(format!(
                        "decimal({}, {}) is not a valid type",
                        ti.precision, ti.scale
                    ));
                }
            }
            code::DATEN => ti.max_len = 3,
            code::TIMEN | code::DATETIME2N | code::DATETIMEOFFSETN => {
                ti.scale = c.u8()?;
                if ti.scale > 7 {
                    return bad(format!("time scale {} is above 7", ti.scale));
                }
                ti.max_len = u32::from(time_len(ti.scale))
                    + match t {
                        code::DATETIME2N => 3,
                        code::DATETIMEOFFSETN => 5,
                        _ => 0,
                    };
            }
            code::BIGVARBINARY
            | code::BIGBINARY
            | code::BIGVARCHAR
            | code::BIGCHAR
            | code::NVARCHAR
            | code::NCHAR => {
                ti.max_len = u32::from(c.u16()?);
                ti.len_kind = if ti.max_len == 0xFFFF {
                    LenKind::Plp
                } else {
                    LenKind::UShort
                };
                if matches!(
                    t,
                    code::BIGVARCHAR | code::BIGCHAR | code::NVARCHAR | code::NCHAR
                ) {
                    ti.collation = Some(collation(c)?);
                }
            }
            code::XML => {
                ti.len_kind = LenKind::Plp;
                ti.max_len = 0xFFFF;
                if c.u8()? != 0 {
                    c.b_varchar()?;
                    c.b_varchar()?;
                    c.us_varchar()?;
                }
            }
            code::UDT => {
                ti.len_kind = LenKind::Plp;
                ti.max_len = u32::from(c.u16()?);
                c.b_varchar()?;
                c.b_varchar()?;
                c.b_varchar()?;
                c.us_varchar()?;
            }
            code::TEXT | code::NTEXT | code::IMAGE => {
                ti.len_kind = LenKind::Long;
                ti.max_len = c.u32()?;
                if t != code::IMAGE {
                    ti.collation = Some(collation(c)?);
                }
            }
            code::SSVARIANT => {
                ti.len_kind = LenKind::Variant;
                ti.max_len = c.u32()?;
            }
            other => return bad(format!("unknown data type {other:#04x}")),
        }
        Ok(ti)
    }

    /// The type name as T-SQL spells it, for messages and descriptions.
    pub fn sql_name(&self) -> String {
        let size = |n: u32, per: u32| {
            if n == 0xFFFF {
                "max".to_owned()
            } else {
                (n / per).to_string()
            }
        };
        match self.code {
            code::NULL => "null".into(),
            code::INT1 => "tinyint".into(),
            code::BIT | code::BITN => "bit".into(),
            code::INT2 => "smallint".into(),
            code::INT4 => "int".into(),
            code::INT8 => "bigint".into(),
            code::INTN => match self.max_len {
                1 => "tinyint".into(),
                2 => "smallint".into(),
                4 => "int".into(),
                _ => "bigint".into(),
            },
            code::FLT4 => "real".into(),
            code::FLT8 => "float".into(),
            code::FLTN => if self.max_len == 4 { "real" } else { "float" }.into(),
            code::MONEY4 => "smallmoney".into(),
            code::MONEY => "money".into(),
            code::MONEYN => if self.max_len == 4 {
                "smallmoney"
            } else {
                "money"
            }
            .into(),
            code::DATETIM4 => "smalldatetime".into(),
            code::DATETIME => "datetime".into(),
            code::DATETIMN => if self.max_len == 4 {
                "smalldatetime"
            } else {
                "datetime"
            }
            .into(),
            code::DECIMAL | code::DECIMALN => format!("decimal({},{})", self.precision, self.scale),
            code::NUMERIC | code::NUMERICN => format!("numeric({},{})", self.precision, self.scale),
            code::GUID => "uniqueidentifier".into(),
            code::DATEN => "date".into(),
            code::TIMEN => format!("time({})", self.scale),
            code::DATETIME2N => format!("datetime2({})", self.scale),
            code::DATETIMEOFFSETN => format!("datetimeoffset({})", self.scale),
            code::BIGVARCHAR | code::VARCHAR => format!("varchar({})", size(self.max_len, 1)),
            code::BIGCHAR | code::CHAR => format!("char({})", size(self.max_len, 1)),
            code::NVARCHAR => format!("nvarchar({})", size(self.max_len, 2)),
            code::NCHAR => format!("nchar({})", size(self.max_len, 2)),
            code::BIGVARBINARY | code::VARBINARY => format!("varbinary({})", size(self.max_len, 1)),
            code::BIGBINARY | code::BINARY => format!("binary({})", size(self.max_len, 1)),
            code::XML => "xml".into(),
            code::UDT => "udt".into(),
            code::TEXT => "text".into(),
            code::NTEXT => "ntext".into(),
            code::IMAGE => "image".into(),
            code::SSVARIANT => "sql_variant".into(),
            other => format!("type {other:#04x}"),
        }
    }

    /// True for character data stored as UTF-16.
    pub fn is_unicode(&self) -> bool {
        matches!(
            self.code,
            code::NVARCHAR | code::NCHAR | code::NTEXT | code::XML
        )
    }
}

fn collation(c: &mut Cur<'_>) -> DResult<[u8; 5]> {
    let s = c.take(5)?;
    Ok([s[0], s[1], s[2], s[3], s[4]])
}

/// Bytes of a time value of `scale` (MS-TDS 2.2.5.5.1.8).
pub fn time_len(scale: u8) -> u8 {
    match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    }
}

/// Reads one value's bytes: `None` is NULL. PLP chunks are joined (the only copy).
pub fn read_cell<'a>(c: &mut Cur<'a>, ti: &TypeInfo) -> DResult<Option<Cow<'a, [u8]>>> {
    match ti.len_kind {
        LenKind::Fixed(0) => Ok(None),
        LenKind::Fixed(n) => Ok(Some(Cow::Borrowed(c.take(n as usize)?))),
        LenKind::Byte => {
            let n = c.u8()?;
            if n == 0
                || (n == 0xFF
                    && matches!(
                        ti.code,
                        code::CHAR | code::VARCHAR | code::BINARY | code::VARBINARY
                    ))
            {
                return Ok(None);
            }
            if u32::from(n) > ti.max_len.max(1) && ti.max_len != 0 {
                return bad(format!("{}-byte value for a {} column", n, ti.sql_name()));
            }
            Ok(Some(Cow::Borrowed(c.take(n as usize)?)))
        }
        LenKind::UShort => {
            let n = c.u16()?;
            if n == 0xFFFF {
                return Ok(None);
            }
            Ok(Some(Cow::Borrowed(c.take(n as usize)?)))
        }
        LenKind::Long => {
            let ptr_len = c.u8()?;
            if ptr_len == 0 {
                return Ok(None);
            }
            c.skip(ptr_len as usize + 8)?;
            let n = c.u32()? as usize;
            Ok(Some(Cow::Borrowed(c.take(n)?)))
        }
        LenKind::Variant => {
            let n = c.u32()? as usize;
            if n == 0 {
                return Ok(None);
            }
            Ok(Some(Cow::Borrowed(c.take(n)?)))
        }
        LenKind::Plp => read_plp(c),
    }
}

const PLP_NULL: u64 = u64::MAX;

fn read_plp<'a>(c: &mut Cur<'a>) -> DResult<Option<Cow<'a, [u8]>>> {
    let total = c.u64()?;
    if total == PLP_NULL {
        return Ok(None);
    }
    // First pass: find the chunks without copying (and without trusting `total`).
    let start = *c;
    let mut chunks = 0usize;
    let mut size = 0usize;
    loop {
        let n = c.u32()? as usize;
        if n == 0 {
            break;
        }
        c.skip(n)?;
        chunks += 1;
        size += n;
    }
    let mut again = start;
    if chunks == 1 {
        let n = again.u32()? as usize;
        return Ok(Some(Cow::Borrowed(again.take(n)?)));
    }
    let mut out = Vec::with_capacity(size);
    for _ in 0..chunks {
        let n = again.u32()? as usize;
        out.extend_from_slice(again.take(n)?);
    }
    Ok(Some(Cow::Owned(out)))
}

/// Skips one value, checking its framing.
pub fn skip_cell(c: &mut Cur<'_>, ti: &TypeInfo) -> DResult<()> {
    if ti.len_kind == LenKind::Plp {
        let total = c.u64()?;
        if total == PLP_NULL {
            return Ok(());
        }
        loop {
            let n = c.u32()? as usize;
            if n == 0 {
                return Ok(());
            }
            c.skip(n)?;
        }
    }
    read_cell(c, ti).map(|_| ())
}

/// An error for a value that does not have the size its type needs.
pub fn wrong_size(ti: &TypeInfo, len: usize) -> DecodeError {
    DecodeError::Bad(format!("{len}-byte value for a {} column", ti.sql_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> DResult<TypeInfo> {
        TypeInfo::parse(&mut Cur::new(b))
    }

    #[test]
    fn type_infos() {
        assert_eq!(parse(&[0x38]).unwrap().len_kind, LenKind::Fixed(4));
        let t = parse(&[0x26, 8]).unwrap();
        assert_eq!(
            (t.len_kind, t.max_len, t.sql_name().as_str()),
            (LenKind::Byte, 8, "bigint")
        );
        let t = parse(&[0x6C, 17, 38, 10]).unwrap();
        assert_eq!(t.sql_name(), "numeric(38,10)");
        let t = parse(&[0xE7, 0xFF, 0xFF, 9, 4, 0xD0, 0, 0x34]).unwrap();
        assert_eq!(
            (t.len_kind, t.sql_name().as_str()),
            (LenKind::Plp, "nvarchar(max)")
        );
        assert_eq!(t.collation, Some([9, 4, 0xD0, 0, 0x34]));
        let t = parse(&[0x2A, 7]).unwrap();
        assert_eq!((t.max_len, t.sql_name().as_str()), (8, "datetime2(7)"));
        assert_eq!(parse(&[0xF1, 0]).unwrap().len_kind, LenKind::Plp);
        assert_eq!(
            parse(&[0x62, 0x10, 0x1F, 0, 0]).unwrap().len_kind,
            LenKind::Variant
        );
    }

    #[test]
    fn hostile_type_infos() {
        assert!(matches!(parse(&[0x99]), Err(DecodeError::Bad(_))));
        assert!(matches!(
            parse(&[0x6C, 17, 39, 0]),
            Err(DecodeError::Bad(_))
        ));
        assert!(matches!(parse(&[0x29, 8]), Err(DecodeError::Bad(_))));
        assert_eq!(parse(&[0xE7, 0x10]), Err(DecodeError::Incomplete));
    }

    #[test]
    fn cells() {
        let nv = parse(&[0xE7, 0x40, 0, 9, 4, 0xD0, 0, 0x34]).unwrap();
        let mut c = Cur::new(&[2, 0, b'h', 0, 0xFF, 0xFF]);
        assert_eq!(read_cell(&mut c, &nv).unwrap().unwrap().as_ref(), b"h\0");
        assert_eq!(read_cell(&mut c, &nv).unwrap(), None);
        let max = parse(&[0xA5, 0xFF, 0xFF]).unwrap();
        let plp = [
            5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', 3, 0, 0, 0, b'c', b'd', b'e', 0, 0, 0,
            0,
        ];
        let mut c = Cur::new(&plp);
        assert_eq!(read_cell(&mut c, &max).unwrap().unwrap().as_ref(), b"abcde");
        assert_eq!(c.remaining(), 0);
        let mut c = Cur::new(&plp[..20]);
        assert_eq!(read_cell(&mut c, &max), Err(DecodeError::Incomplete));
        let mut c = Cur::new(&[0xFF; 8]);
        assert_eq!(read_cell(&mut c, &max).unwrap(), None);
        let intn = parse(&[0x26, 4]).unwrap();
        assert!(matches!(
            read_cell(&mut Cur::new(&[8, 0, 0, 0, 0, 0, 0, 0, 0]), &intn),
            Err(DecodeError::Bad(_))
        ));
    }
}
