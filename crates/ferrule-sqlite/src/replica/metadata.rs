//! The replica's progress file, `<database>-info`: which generation of the primary the local
//! copy follows and the last of its frames applied. Written atomically after each commit.
//! The layout (JSON with a CRC-32 of the fields) is the one libSQL's own replicas keep.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferrule_core::{Error, Result};
use serde_json::{json, Value as Json};

const VERSION: u32 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The primary's generation (it starts a new one at each checkpoint); at least 1.
    pub generation: u32,
    /// The last frame of that generation in the local copy (0: none yet).
    pub frame: u32,
}

/// The progress file of the database at `db_path`.
pub fn path_for(db_path: &str) -> PathBuf {
    PathBuf::from(format!("{db_path}-info"))
}

fn checksum(p: Progress) -> u32 {
    let mut bytes = Vec::with_capacity(12);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&p.frame.to_le_bytes());
    bytes.extend_from_slice(&p.generation.to_le_bytes());
    crc32(&bytes)
}

/// CRC-32 (IEEE 802.3), bit by bit: the file is a few dozen bytes.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn bad(path: &Path, why: &str) -> Error {
    Error::interface(format!(
        "the replica's progress file {} is damaged ({why}); remove the database and this file \
         to start the replica over",
        path.display()
    ))
}

/// Reads and checks the progress file.
pub fn read(path: &Path) -> Result<Progress> {
    let text = std::fs::read(path)
        .map_err(|e| Error::interface(format!("cannot read {}: {e}", path.display())))?;
    let json: Json = serde_json::from_slice(&text).map_err(|_| bad(path, "not JSON"))?;
    let field = |name: &str| {
        json.get(name)
            .and_then(Json::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad(path, &format!("no {name}")))
    };
    let progress = Progress {
        generation: field("generation")?,
        frame: field("durable_frame_num")?,
    };
    if field("version")? != VERSION {
        return Err(bad(path, "unknown version"));
    }
    if field("hash")? != checksum(progress) {
        return Err(bad(path, "checksum mismatch"));
    }
    if progress.generation == 0 {
        return Err(bad(path, "generation 0"));
    }
    Ok(progress)
}

/// Replaces the progress file: a new file beside it, flushed, then renamed over it. The
/// rename itself is not made durable: lost in a power cut, it leaves the progress before it,
/// and frames applied again over pages that already hold them change nothing.
pub fn write(path: &Path, p: Progress) -> Result<()> {
    let body = json!({
        "hash": checksum(p),
        "version": VERSION,
        "durable_frame_num": p.frame,
        "generation": p.generation,
    });
    replace_file(path, body.to_string().as_bytes())?;
    Ok(())
}

/// Writes `data` to `path` so that a crash leaves either the old file or the new one, and the
/// new one for good once this returns.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    replace_file(path, data)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// A new file beside `path`, flushed, then renamed over it.
fn replace_file(path: &Path, data: &[u8]) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        Error::interface(format!("cannot {what} {}: {e}", path.display()))
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(|e| fail("create a file beside", e))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write a file beside", e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| fail("replace", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = std::env::temp_dir().join(format!("ferrule-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db-info");
        let p = Progress {
            generation: 3,
            frame: 77,
        };
        write(&path, p).unwrap();
        assert_eq!(read(&path).unwrap(), p);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("77", "78")).unwrap();
        assert!(read(&path).unwrap_err().message.contains("checksum"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
