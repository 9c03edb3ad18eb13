//! The 128-byte greeting a Tarantool server sends first: version, instance UUID and the salt
//! for authentication.

use base64::Engine;
use ferrule_core::Error;

pub const GREETING_SIZE: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// `(major, minor, patch)`, e.g. `(2, 6, 0)`.
    pub version: (u32, u32, u32),
    /// The text after "Tarantool " up to the end of the first line.
    pub banner: String,
    pub salt: Vec<u8>,
}

impl Greeting {
    pub fn parse(bytes: &[u8]) -> Result<Greeting, Error> {
        if bytes.len() != GREETING_SIZE {
            return Err(Error::protocol("the greeting must be 128 bytes"));
        }
        let (line1, line2) = bytes.split_at(64);
        let line1 = std::str::from_utf8(line1)
            .map_err(|_| Error::protocol("the greeting is not text"))?
            .trim_end();
        let Some(banner) = line1.strip_prefix("Tarantool ") else {
            return Err(Error::protocol(format!(
                "the server is not Tarantool (greeting {:?})",
                line1.chars().take(40).collect::<String>()
            )));
        };
        if !banner.contains("(Binary)") {
            return Err(Error::protocol(format!(
                "the server does not speak the binary protocol ({banner:?}): is this the \
                 admin console port?"
            )));
        }
        let salt_text = std::str::from_utf8(line2)
            .map_err(|_| Error::protocol("the greeting's salt is not text"))?
            .trim();
        let salt = base64::engine::general_purpose::STANDARD
            .decode(salt_text)
            .map_err(|_| Error::protocol("the greeting's salt is not base64"))?;
        if salt.len() < 20 {
            return Err(Error::protocol("the greeting's salt is too short"));
        }
        Ok(Greeting {
            version: parse_version(banner),
            banner: banner.to_owned(),
            salt,
        })
    }

    /// The version as one number, e.g. 20600 for 2.6.0, for feature checks.
    pub fn version_number(&self) -> u32 {
        self.version.0 * 10_000 + self.version.1 * 100 + self.version.2
    }
}

fn parse_version(banner: &str) -> (u32, u32, u32) {
    let word = banner.split_whitespace().next().unwrap_or("");
    let core = word.split('-').next().unwrap_or("");
    let mut parts = core.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Vec<u8> {
        let mut g = format!(
            "{:<63}\n",
            "Tarantool 2.6.0 (Binary) 6687f547-44ab-47f4-83ea-4e4481a3868e"
        )
        .into_bytes();
        g.extend(format!("{:<63}\n", "UIM++KN1GZ5slVLXwqrRPe5T+Sd8hPsYdSBMk6VqYoM=").into_bytes());
        g
    }

    #[test]
    fn parses_a_real_greeting() {
        let g = Greeting::parse(&sample()).unwrap();
        assert_eq!(g.version, (2, 6, 0));
        assert_eq!(g.version_number(), 20600);
        assert_eq!(g.salt.len(), 32);
        assert_eq!(&g.salt[..3], &[0x50, 0x83, 0x3e]);
    }

    #[test]
    fn rejects_other_servers() {
        assert!(Greeting::parse(&[b' '; 127]).is_err());
        let mut g = sample();
        g[..9].copy_from_slice(b"PostgreSQ");
        assert!(Greeting::parse(&g).is_err());
        let mut g = sample();
        g[64] = b'!';
        assert!(Greeting::parse(&g).is_err());
        let console = format!(
            "{:<63}\n{:<63}\n",
            "Tarantool 2.6.0 (Lua console)", "type 'help'"
        );
        assert!(Greeting::parse(console.as_bytes()).is_err());
    }
}
