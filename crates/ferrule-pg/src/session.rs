//! Session state a connection may carry over to its next user: settings, listeners, cursors,
//! locks, SQL-level prepared statements, temporary tables.
//!
//! The pool resets a released connection only when it is dirty (asyncpg resets on every
//! release, and loses about half its pool throughput to it). The reader notices most state
//! from what the server says (command tags, parameter changes); `from_sql_text` is a textual
//! heuristic for the rest, applied by the pool's binding.

use std::ops::BitOr;

/// A set of kinds of session state; each kind needs its own part of the reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionState(u8);

impl SessionState {
    pub const CLEAN: SessionState = SessionState(0);
    /// Settings, LISTEN, cursors, advisory locks: cleared by the standard reset.
    pub const SETTINGS: SessionState = SessionState(1);
    /// Statements made with SQL `PREPARE` (not the protocol-level ones ferrule caches).
    pub const PREPARED: SessionState = SessionState(2);
    /// Temporary tables, views or sequences may exist.
    pub const TEMP_OBJECTS: SessionState = SessionState(4);

    pub fn from_bits(bits: u8) -> SessionState {
        SessionState(bits & 0b111)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn is_clean(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, other: SessionState) -> bool {
        self.0 & other.0 == other.0 && !other.is_clean()
    }
}

impl BitOr for SessionState {
    type Output = SessionState;

    fn bitor(self, rhs: SessionState) -> SessionState {
        SessionState(self.0 | rhs.0)
    }
}

/// What a CommandComplete tag says about the session. Conservative: a `CREATE TABLE` may have
/// made a temporary table (`CREATE TEMP TABLE` and `pg_temp.x` both answer `CREATE TABLE`).
pub fn from_command_tag(tag: &str) -> SessionState {
    match tag {
        "SET" | "LISTEN" | "UNLISTEN" | "DECLARE CURSOR" | "LOAD" => SessionState::SETTINGS,
        "PREPARE" => SessionState::PREPARED,
        "CREATE TABLE" | "CREATE VIEW" | "CREATE SEQUENCE" => SessionState::TEMP_OBJECTS,
        _ => SessionState::CLEAN,
    }
}

/// A reset heuristic only, from the SQL text of a call on a pooled connection: session state
/// that no command tag reveals. `pg_advisory*` may take a session-level advisory lock,
/// `set_config` may change a setting, and the words `temp`, `temporary` or `pg_temp` may
/// create a temporary table through `CREATE TEMP TABLE ... AS` or `SELECT ... INTO TEMP`
/// (whose tag is `SELECT n`). A false positive costs one reset; nothing here is ever used to
/// decide what SQL means.
pub fn from_sql_text(sql: &str) -> SessionState {
    /// (needle, must end a word, what it means); every needle must start a word.
    const NEEDLES: [(&[u8], bool, SessionState); 5] = [
        (b"pg_advisory", false, SessionState::SETTINGS),
        (b"set_config", false, SessionState::SETTINGS),
        (b"temp", true, SessionState::TEMP_OBJECTS),
        (b"temporary", true, SessionState::TEMP_OBJECTS),
        (b"pg_temp", true, SessionState::TEMP_OBJECTS),
    ];
    let bytes = sql.as_bytes();
    let mut found = SessionState::CLEAN;
    for (i, &b) in bytes.iter().enumerate() {
        let first = b.to_ascii_lowercase();
        if (first != b'p' && first != b's' && first != b't') || (i > 0 && is_ident(bytes[i - 1])) {
            continue;
        }
        for (needle, whole_word, state) in NEEDLES {
            let end = i + needle.len();
            let matched = bytes
                .get(i..end)
                .is_some_and(|w| w.eq_ignore_ascii_case(needle));
            if matched && !(whole_word && bytes.get(end).is_some_and(|&c| is_ident(c))) {
                found = found | state;
            }
        }
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(from_command_tag("SET"), SessionState::SETTINGS);
        assert_eq!(from_command_tag("LISTEN"), SessionState::SETTINGS);
        assert_eq!(from_command_tag("DECLARE CURSOR"), SessionState::SETTINGS);
        assert_eq!(from_command_tag("PREPARE"), SessionState::PREPARED);
        assert_eq!(from_command_tag("CREATE TABLE"), SessionState::TEMP_OBJECTS);
        assert!(from_command_tag("SELECT 1").is_clean());
        assert!(from_command_tag("INSERT 0 1").is_clean());
        assert!(from_command_tag("RESET").is_clean());
    }

    #[test]
    fn text_heuristic() {
        assert_eq!(
            from_sql_text("SELECT pg_advisory_lock($1)"),
            SessionState::SETTINGS
        );
        assert_eq!(
            from_sql_text("select PG_ADVISORY_XACT_LOCK(1)"),
            SessionState::SETTINGS
        );
        assert_eq!(
            from_sql_text("SELECT set_config('a.b', $1, false)"),
            SessionState::SETTINGS
        );
        assert_eq!(
            from_sql_text("CREATE TEMPORARY TABLE t AS SELECT 1"),
            SessionState::TEMP_OBJECTS
        );
        assert!(from_sql_text("SELECT $1::int4").is_clean());
        assert!(from_sql_text("").is_clean());
        assert!(from_sql_text("SELECT 'pg_advisor'").is_clean());
        assert!(from_sql_text("SELECT temperature FROM templates").is_clean());
        assert!(from_sql_text("SELECT pg_my_temp_schema(), my_pg_advisory_x()").is_clean());
        assert_eq!(
            from_sql_text("SELECT 1 INTO TEMP t"),
            SessionState::TEMP_OBJECTS
        );
        assert_eq!(
            from_sql_text("CREATE TABLE pg_temp.t (a int)"),
            SessionState::TEMP_OBJECTS
        );
        let both = from_sql_text("SELECT pg_advisory_lock(1) INTO TEMP t");
        assert!(both.contains(SessionState::SETTINGS));
        assert!(both.contains(SessionState::TEMP_OBJECTS));
        assert!(!both.contains(SessionState::PREPARED));
    }
}
