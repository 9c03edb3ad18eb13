//! libSQL embedded replicas: a local SQLite file that follows a remote libSQL primary. Reads
//! run on the local copy; statements that write go to the primary over Hrana (the caller
//! routes them: a local session in replica mode answers them with `route_remote()` unrun);
//! `sync` pulls the primary's new frames with libSQL's sync protocol over HTTP:
//!
//! - `GET /info`: the primary's current generation (a new one starts at each checkpoint);
//! - `GET /export/{generation}`: the database as that generation began (a new replica's
//!   starting point);
//! - `GET /sync/{generation}/{first}/{end}`: frames `first..end` (as many as exist), or an
//!   HTTP 400/500 naming the current generation once `first` is past the last one.

mod apply;
mod lock;
mod metadata;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferrule_core::{Error, ErrorKind, Result};
use serde_json::Value as Json;

use crate::hrana::http::{Endpoint, HttpClient, Response};
use apply::Applier;
use lock::SyncLock;
use metadata::Progress;

/// The code of the answer a replica's local session gives a statement it must not run.
pub const ROUTE_REMOTE: &str = "FERRULE_ROUTE_REMOTE";

/// The answer to a statement the local copy of a replica does not run (it writes, controls a
/// transaction, or does not prepare locally): the caller sends it to the primary.
pub fn route_remote() -> Error {
    Error::new(
        ErrorKind::Interface,
        "this statement runs on the replica's primary",
    )
    .with_code(ROUTE_REMOTE)
}

pub fn is_route_remote(e: &Error) -> bool {
    e.code.as_deref() == Some(ROUTE_REMOTE)
}

/// Frames asked for per pull.
const PULL_BATCH: u32 = 512;

#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The local database file.
    pub path: String,
    /// The primary: `libsql://host`, `https://host[:port]` or `http://host[:port]`.
    pub sync_url: String,
    pub auth_token: Option<String>,
    pub connect_timeout: Duration,
}

struct State {
    http: HttpClient,
    applier: Arc<parking_lot::Mutex<Applier>>,
    /// Held while a pull runs: other replicas of the same file, in this process or another,
    /// wait rather than apply frames over each other.
    lock: Arc<SyncLock>,
}

/// The sync side of one replica; clones share it. Pulls take turns.
#[derive(Clone)]
pub struct Replica {
    state: Arc<tokio::sync::Mutex<State>>,
    url: String,
}

/// What one `sync` did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Synced {
    /// Frames applied.
    pub frames: u64,
    /// The primary's transactions that became visible locally.
    pub transactions: u64,
    pub generation: u32,
    /// The last frame of `generation` in the local copy.
    pub frame: u32,
}

impl Replica {
    /// Opens the replica at `cfg.path`, first copying the primary's database there when the
    /// file does not exist yet. Returns it and whether it was just created (and so may lag
    /// behind the primary by the frames of its current generation).
    pub async fn open(cfg: &ReplicaConfig) -> Result<(Replica, bool)> {
        let endpoint = Endpoint::parse(&cfg.sync_url)?;
        let mut http = HttpClient::new(endpoint, cfg.auth_token.clone(), cfg.connect_timeout);
        let meta_path = metadata::path_for(&cfg.path);
        let lock = Arc::new(SyncLock::open(&cfg.path)?);
        let held = lock.clone().hold().await?;
        let db_exists = Path::new(&cfg.path).exists();
        let (progress, created) = match (db_exists, meta_path.exists()) {
            (true, true) => (metadata::read(&meta_path)?, false),
            (false, false) => (bootstrap(&mut http, cfg, &meta_path).await?, true),
            (true, false) => {
                return Err(Error::interface(format!(
                    "{:?} exists but is not a libSQL replica (there is no {}); give a new path, \
                     or remove the file to make it one",
                    cfg.path,
                    meta_path.display()
                )))
            }
            (false, true) => {
                return Err(Error::interface(format!(
                    "the replica's progress file {} exists but its database {:?} does not; \
                     remove the progress file to start the replica over",
                    meta_path.display(),
                    cfg.path
                )))
            }
        };
        let path = cfg.path.clone();
        let applier = blocking(move || Applier::open(&path, progress)).await?;
        drop(held);
        let replica = Replica {
            state: Arc::new(tokio::sync::Mutex::new(State {
                http,
                applier: Arc::new(parking_lot::Mutex::new(applier)),
                lock,
            })),
            url: cfg.sync_url.clone(),
        };
        Ok((replica, created))
    }

    /// Pulls and applies every frame the primary has that the local copy lacks.
    pub async fn sync(&self) -> Result<Synced> {
        let mut state = self.state.lock().await;
        let applier = state.applier.clone();
        let _held = state.lock.clone().hold().await?;
        // A pull abandoned half-way (a timeout) may have left frames uncommitted, and another
        // replica of the file may have pulled since: start again from the progress file.
        blocking({
            let applier = applier.clone();
            move || applier.lock().reload()
        })
        .await?;
        let mut done = Synced::default();
        loop {
            let (generation, first) = {
                let a = applier.lock();
                (a.committed.generation, a.written + 1)
            };
            let path = format!("/sync/{generation}/{first}/{}", first + PULL_BATCH);
            let response = state
                .http
                .get(&path)
                .await
                .inspect_err(|_| state.http.reset())?;
            match response.status {
                200 => {
                    let frames = response.body;
                    let count = (frames.len() / apply::FRAME_SIZE) as u64;
                    let a = applier.clone();
                    let commits = blocking(move || a.lock().apply(first, &frames)).await?;
                    done.frames += count;
                    done.transactions += u64::from(commits);
                }
                400 | 500 => {
                    let current = end_of_generation(&response, &self.url)?;
                    if current <= generation {
                        break;
                    }
                    let a = applier.clone();
                    blocking(move || {
                        let mut a = a.lock();
                        if a.written != a.committed.frame {
                            return Err(Error::protocol(format!(
                                "generation {generation} ended inside a transaction (frame {})",
                                a.written
                            )));
                        }
                        a.next_generation(generation + 1)
                    })
                    .await?;
                }
                _ => return Err(http_error(&response, &self.url, "pull frames")),
            }
        }
        let a = applier.lock();
        done.generation = a.committed.generation;
        done.frame = a.committed.frame;
        Ok(done)
    }
}

/// Copies the primary's database to `cfg.path` and starts the progress file.
async fn bootstrap(
    http: &mut HttpClient,
    cfg: &ReplicaConfig,
    meta_path: &Path,
) -> Result<Progress> {
    let info = http.get("/info").await?;
    if info.status != 200 {
        return Err(http_error(&info, &cfg.sync_url, "describe its database"));
    }
    let generation = serde_json::from_slice::<Json>(&info.body)
        .ok()
        .and_then(|j| j.get("current_generation").and_then(Json::as_u64))
        .and_then(|g| u32::try_from(g).ok())
        .filter(|g| *g > 0)
        .ok_or_else(|| {
            Error::protocol(format!(
                "{} answered /info without a current generation",
                cfg.sync_url
            ))
        })?;
    let export = http.get(&format!("/export/{generation}")).await?;
    if export.status != 200 {
        return Err(http_error(&export, &cfg.sync_url, "export its database"));
    }
    if export.body.len() < 100 || !export.body.starts_with(b"SQLite format 3\0") {
        return Err(Error::protocol(format!(
            "{} exported something that is not a SQLite database",
            cfg.sync_url
        )));
    }
    let progress = Progress {
        generation,
        frame: 0,
    };
    let (db, meta, body) = (cfg.path.clone(), meta_path.to_owned(), export.body);
    blocking(move || {
        metadata::write_atomically(Path::new(&db), &body)?;
        metadata::write(&meta, progress)
    })
    .await?;
    Ok(progress)
}

/// The current generation an end-of-generation answer names.
fn end_of_generation(response: &Response, url: &str) -> Result<u32> {
    serde_json::from_slice::<Json>(&response.body)
        .ok()
        .and_then(|j| j.get("generation").and_then(Json::as_u64))
        .and_then(|g| u32::try_from(g).ok())
        .ok_or_else(|| http_error(response, url, "pull frames"))
}

fn http_error(response: &Response, url: &str, what: &str) -> Error {
    let text: String = String::from_utf8_lossy(&response.body)
        .chars()
        .take(200)
        .collect();
    let kind = match response.status {
        401 | 403 => ErrorKind::Authentication,
        404 => ErrorKind::ConnectionFailure,
        _ => ErrorKind::Database,
    };
    let hint = if response.status == 404 {
        " (does it speak libSQL's sync protocol?)"
    } else {
        ""
    };
    Error::new(
        kind,
        format!(
            "the libSQL server at {url} could not {what}: HTTP {}{hint}: {text}",
            response.status
        ),
    )
}

/// Runs file and SQLite work off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::interface(format!("the replica's file work failed: {e}")))?
}
