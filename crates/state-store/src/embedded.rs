//! The embedded backend: a [`redb`] database file, so that a restart of the
//! process keeps every key, version, expiry time and fencing token.
//!
//! Each write request is one redb write transaction, committed durably (fsync)
//! before the answer; redb runs one write transaction at a time, so requests are
//! linearizable. Expiry times are stored as wall-clock times (Unix nanoseconds),
//! so keys expire across restarts; expired entries are swept when the file is
//! opened and whenever a request touches them. The version clock is stored too
//! (table `meta`), so versions keep growing after a restart even if the wall
//! clock went back. redb locks the file: one process (and one store) at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use wasmgraph_types::{Hlc, HlcClock};

use crate::backend::{check_fence, expiry_nanos, set_allowed, unix_nanos};
use crate::encoding::{parse_version, version_text};
use crate::{
    Clock, DelResponse, GetResponse, KeyValue, SetOptions, SetResponse, StateBackend, StateStoreError, SystemClock,
};

/// (version as [`version_text`], expiry in Unix nanoseconds, value).
type Row = (&'static str, Option<u64>, &'static [u8]);

const ENTRIES: TableDefinition<&[u8], Row> = TableDefinition::new("entries");
/// Key to its remembered fencing token, as [`version_text`].
const FENCING: TableDefinition<&[u8], &str> = TableDefinition::new("fencing");
/// `clock`: the latest version handed out, as [`version_text`].
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const CLOCK: &str = "clock";

/// What can go wrong inside a transaction: the database, or the request itself
/// (a stale fencing token, an unreadable stored version).
enum Failure {
    Db(redb::Error),
    Request(StateStoreError),
}

macro_rules! db_failure {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::Db(e.into())
            }
        }
    )*};
}
db_failure!(redb::Error, redb::StorageError, redb::TableError, redb::TransactionError, redb::CommitError);

impl From<StateStoreError> for Failure {
    fn from(e: StateStoreError) -> Self {
        Failure::Request(e)
    }
}

/// A live (not expired) entry as stored.
struct Stored {
    value: Vec<u8>,
    version: Hlc,
}

/// A state store in a redb database file.
#[derive(Debug)]
pub struct EmbeddedBackend {
    db: Database,
    path: PathBuf,
    versions: Mutex<HlcClock>,
    clock: Arc<dyn Clock>,
}

impl EmbeddedBackend {
    /// Open the store in the file at `path` (created, with its parent folders,
    /// when missing), with versions carrying `node_id`, on the system clock.
    pub fn open(path: impl AsRef<Path>, node_id: &str) -> Result<Self, StateStoreError> {
        Self::open_with_clock(path, node_id, Arc::new(SystemClock))
    }

    /// Like [`open`](Self::open), reading `clock` for expiry and versions.
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        node_id: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateStoreError> {
        let path = path.as_ref().to_path_buf();
        let store = describe(&path);
        let fail = |reason: String| StateStoreError::Open { store: store.clone(), reason };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create its folder {}: {e}", parent.display())))?;
        }
        if path.is_dir() {
            return Err(fail("it is a folder; the path must name a file".to_string()));
        }
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => fail(
                "the file is in use by another process or another store in this one \
                 (an embedded store serves one process; use the Redis backend to share state)"
                    .to_string(),
            ),
            other => fail(other.to_string()),
        })?;
        let backend = EmbeddedBackend { db, path, versions: Mutex::new(HlcClock::new(node_id)), clock };
        backend.prepare().map_err(|e| fail(e.to_string()))?;
        Ok(backend)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Create the tables, restore the version clock and sweep expired entries.
    fn prepare(&self) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let now = unix_nanos(self.clock.now());
            let meta = txn.open_table(META)?;
            if let Some(last) = meta.get(CLOCK)?.and_then(|g| parse_version(g.value())) {
                self.versions().observe(&last);
            }
            txn.open_table(FENCING)?;
            let mut entries = txn.open_table(ENTRIES)?;
            entries.retain(|_, (_, expires_at, _)| expires_at.is_none_or(|at| now < at))?;
        }
        txn.commit()?;
        Ok(())
    }

    fn versions(&self) -> MutexGuard<'_, HlcClock> {
        // The clock is a pair of numbers updated at once: usable after a panic.
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, operation: &'static str, key: &[u8], failure: Failure) -> StateStoreError {
        match failure {
            Failure::Request(e) => e,
            Failure::Db(e) => StateStoreError::Backend {
                store: describe(&self.path),
                operation,
                key: String::from_utf8_lossy(key).into_owned(),
                reason: e.to_string(),
            },
        }
    }

    /// Run `request` in one write transaction at the clock's current time;
    /// commit it (with the version clock) when it succeeds, abort it when not.
    fn write<T>(
        &self,
        operation: &'static str,
        key: &[u8],
        request: impl FnOnce(&WriteTransaction, &mut HlcClock, u64) -> Result<T, Failure>,
    ) -> Result<T, StateStoreError> {
        let run = || -> Result<T, Failure> {
            let txn = self.db.begin_write()?;
            let now = unix_nanos(self.clock.now());
            let mut versions = self.versions();
            let before = versions.last();
            let answer = request(&txn, &mut versions, now);
            if answer.is_err() {
                txn.abort()?;
                return answer;
            }
            if versions.last() != before {
                txn.open_table(META)?.insert(CLOCK, version_text(&versions.last()).as_str())?;
            }
            txn.commit()?;
            answer
        };
        run().map_err(|f| self.error(operation, key, f))
    }

    fn remove(&self, key: &[u8], only_if: Option<&[u8]>, token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        let operation = if only_if.is_some() { "vdel" } else { "del" };
        self.write(operation, key, |txn, versions, now| {
            fence(&mut txn.open_table(FENCING)?, key, token)?;
            let mut entries = txn.open_table(ENTRIES)?;
            let remove = match (live(&mut entries, key, now)?, only_if) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(e), Some(v)) => e.value == v,
            };
            if !remove {
                return Ok(DelResponse { deleted: 0, version: None });
            }
            entries.remove(key)?;
            Ok(DelResponse { deleted: 1, version: Some(versions.tick(now)) })
        })
    }
}

fn describe(path: &Path) -> String {
    format!("embedded state store at {}", path.display())
}

fn unreadable(key: &[u8], what: &str, text: &str) -> Failure {
    Failure::Db(redb::Error::Corrupted(format!(
        "the stored {what} of key {:?} is unreadable: {text:?}",
        String::from_utf8_lossy(key)
    )))
}

/// Check `token` against the key's remembered token and remember it if accepted.
fn fence(table: &mut Table<&[u8], &str>, key: &[u8], token: Option<&Hlc>) -> Result<(), Failure> {
    let current = match table.get(key)? {
        Some(g) => Some(parse_version(g.value()).ok_or_else(|| unreadable(key, "fencing token", g.value()))?),
        None => None,
    };
    if check_fence(key, token, current.as_ref())? {
        if let Some(token) = token {
            table.insert(key, version_text(token).as_str())?;
        }
    }
    Ok(())
}

/// The entry of `key` if it is live at `now`.
fn read_live(table: &impl ReadableTable<&'static [u8], Row>, key: &[u8], now: u64) -> Result<Option<Stored>, Failure> {
    let Some(guard) = table.get(key)? else { return Ok(None) };
    let (version, expires_at, value) = guard.value();
    if expires_at.is_some_and(|at| now >= at) {
        return Ok(None);
    }
    let version = parse_version(version).ok_or_else(|| unreadable(key, "version", version))?;
    Ok(Some(Stored { value: value.to_vec(), version }))
}

/// The entry of `key` if it is live at `now`, removing it if it has expired.
fn live(table: &mut Table<&[u8], Row>, key: &[u8], now: u64) -> Result<Option<Stored>, Failure> {
    let found = read_live(table, key, now)?;
    if found.is_none() {
        table.remove(key)?;
    }
    Ok(found)
}

impl StateBackend for EmbeddedBackend {
    fn get(&self, key: &[u8]) -> Result<GetResponse, StateStoreError> {
        let run = || -> Result<GetResponse, Failure> {
            let txn = self.db.begin_read()?;
            let entries = txn.open_table(ENTRIES)?;
            let found = read_live(&entries, key, unix_nanos(self.clock.now()))?;
            Ok(found.map(|e| GetResponse { value: Some(e.value), version: Some(e.version) }).unwrap_or_default())
        };
        run().map_err(|f| self.error("get", key, f))
    }

    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError> {
        self.write("set", key, |txn, versions, now| {
            fence(&mut txn.open_table(FENCING)?, key, fencing_token)?;
            let mut entries = txn.open_table(ENTRIES)?;
            let existing = live(&mut entries, key, now)?;
            if !set_allowed(options.conditions, existing.as_ref().map(|e| e.value.as_slice()), value) {
                return Ok(SetResponse { written: false, version: existing.map(|e| e.version) });
            }
            let version = versions.tick(now);
            let row = (version_text(&version), expiry_nanos(now, options.expires), value);
            entries.insert(key, (row.0.as_str(), row.1, row.2))?;
            Ok(SetResponse { written: true, version: Some(version) })
        })
    }

    fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, None, fencing_token)
    }

    fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, Some(value), fencing_token)
    }

    fn entries(&self) -> Result<Vec<KeyValue>, StateStoreError> {
        let run = || -> Result<Vec<KeyValue>, Failure> {
            let now = unix_nanos(self.clock.now());
            let txn = self.db.begin_read()?;
            let mut all = Vec::new();
            for item in txn.open_table(ENTRIES)?.iter()? {
                let (key, row) = item?;
                let (_, expires_at, value) = row.value();
                if expires_at.is_none_or(|at| now < at) {
                    all.push((key.value().to_vec(), value.to_vec()));
                }
            }
            Ok(all)
        };
        run().map_err(|f| self.error("entries", b"", f))
    }

    fn describe(&self) -> String {
        describe(&self.path)
    }
}
