//! The Redis backend: one Redis server shared by every process of a cluster.
//!
//! # Layout on the server
//!
//! For a state key `K` and key prefix `P`:
//! * `P d:K` is a hash: `v` the value, `ver` its version, `exp` (only when it
//!   expires) the expiry time; versions and times are fixed-width decimal text
//!   (see `encoding.rs`), so the scripts compare them exactly. An expiring key
//!   also gets a Redis TTL, which removes it from the server; every script also
//!   checks `exp` against the requesting process's clock, so a key is absent from
//!   the moment it expires whatever Redis's own timer does.
//! * `P f:K` is the remembered fencing token, a key of its own without a TTL, so
//!   it outlives deletion and expiry of the value.
//!
//! Each request is one Lua script (`EVALSHA`), which Redis runs atomically:
//! fencing check, condition and write cannot interleave with another process's.
//! Versions come from this process's clock; a set over a version that another
//! process wrote with a clock ahead of ours is answered `behind`, and we move our
//! clock past that version and try again, so a key's versions only grow.
//!
//! A failed write is not retried (it may have reached the server); the
//! connection it used is dropped and the next request opens a new one. A read
//! that finds an idle connection dropped (Redis restarted) is retried once on a
//! new connection.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::{Connection, RedisError, Script, ScriptInvocation};
use wasmgraph_types::{Hlc, HlcClock};

use crate::backend::{expiry_nanos, unix_nanos};
use crate::encoding::{nanos_text, parse_version, version_text};
use crate::{
    Clock, DelResponse, GetResponse, KeyValue, SetConditions, SetOptions, SetResponse, StateBackend, StateStoreError,
    SystemClock,
};

/// How long connecting, sending a request or waiting for its answer may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a set may find another process's newer version before giving up.
const MAX_VERSION_TRIES: usize = 8;
/// The longest Redis TTL we set (100 years); the `exp` check still applies.
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Helpers shared by the scripts. Digits are compared as numbers ten at a time
/// (Lua numbers are doubles, exact below 2^53), never as strings (Lua compares
/// strings by locale).
const PRELUDE: &str = r#"
local function cmp_digits(a, b, from, to)
  for i = from, to, 10 do
    local x = tonumber(string.sub(a, i, i + 9))
    local y = tonumber(string.sub(b, i, i + 9))
    if x ~= y then
      if x < y then return -1 else return 1 end
    end
  end
  return 0
end
local function cmp_version(a, b)
  local c = cmp_digits(a, b, 1, 20)
  if c ~= 0 then return c end
  return cmp_digits(a, b, 22, 41)
end
local function live(now, purge)
  local h = redis.call('HMGET', KEYS[1], 'v', 'ver', 'exp')
  if not h[1] then return nil end
  if h[3] and cmp_digits(now, h[3], 1, 20) >= 0 then
    if purge then redis.call('DEL', KEYS[1]) end
    return nil
  end
  return h
end
local function fence()
  local token = ARGV[1]
  if token == '' then return nil end
  local current = redis.call('GET', KEYS[2])
  if current and cmp_version(token, current) < 0 then return current end
  redis.call('SET', KEYS[2], token)
  return nil
end
"#;

/// KEYS: data. ARGV: now. Answers {} or {value, version}.
const GET: &str = r#"
local h = live(ARGV[1], false)
if not h then return {} end
return {h[1], h[2]}
"#;

/// KEYS: data, fence. ARGV: token, now, condition (any|nx|eq), value, version,
/// expiry time or '', TTL in ms.
const SET: &str = r#"
local stale = fence()
if stale then return {'fenced', stale} end
local h = live(ARGV[2], true)
if h then
  if ARGV[3] == 'nx' or (ARGV[3] == 'eq' and h[1] ~= ARGV[4]) then return {'kept', h[2]} end
  if cmp_version(ARGV[5], h[2]) <= 0 then return {'behind', h[2]} end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[4], 'ver', ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'exp', ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
return {'written'}
"#;

/// KEYS: data, fence. ARGV: token, now, mode (del|vdel), value.
const DEL: &str = r#"
local stale = fence()
if stale then return {'fenced', stale} end
local h = live(ARGV[2], true)
if not h or (ARGV[3] == 'vdel' and h[1] ~= ARGV[4]) then return {'kept'} end
redis.call('DEL', KEYS[1])
return {'deleted'}
"#;

#[derive(Debug)]
struct Scripts {
    get: Script,
    set: Script,
    del: Script,
}

/// A state store on a Redis server, shared with every other store (in this or
/// another process) that uses the same server and key prefix.
pub struct RedisBackend {
    client: redis::Client,
    /// Idle connections; a request takes one (or opens one) and puts it back.
    idle: Mutex<Vec<Connection>>,
    prefix: Vec<u8>,
    /// What and where, without a password.
    store: String,
    scripts: Scripts,
    versions: Mutex<HlcClock>,
    clock: Arc<dyn Clock>,
}

impl RedisBackend {
    /// Connect to the Redis at `url` (`redis://[user:password@]host[:port][/db]`
    /// or `redis+unix:///path`), keeping every key under `key_prefix`, with
    /// versions carrying `node_id`, on the system clock. Fails when the URL is
    /// invalid or the server does not answer `PING`.
    pub fn connect(url: &str, key_prefix: &str, node_id: &str) -> Result<Self, StateStoreError> {
        Self::connect_with_clock(url, key_prefix, node_id, Arc::new(SystemClock))
    }

    /// Like [`connect`](Self::connect), reading `clock` for expiry and versions.
    pub fn connect_with_clock(
        url: &str,
        key_prefix: &str,
        node_id: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateStoreError> {
        let store = format!("Redis state store at {} (key prefix {key_prefix:?})", redact(url));
        let fail = |reason: String| StateStoreError::Open { store: store.clone(), reason };
        let client = redis::Client::open(url).map_err(|e| fail(format!("not a usable Redis URL: {e}")))?;
        let scripts = Scripts {
            get: Script::new(&format!("{PRELUDE}{GET}")),
            set: Script::new(&format!("{PRELUDE}{SET}")),
            del: Script::new(&format!("{PRELUDE}{DEL}")),
        };
        let backend = RedisBackend {
            client,
            idle: Mutex::new(Vec::new()),
            prefix: key_prefix.as_bytes().to_vec(),
            store: store.clone(),
            scripts,
            versions: Mutex::new(HlcClock::new(node_id)),
            clock,
        };
        backend
            .with_connection(false, |conn| redis::cmd("PING").query::<String>(conn))
            .map_err(|e| fail(format!("the server does not answer: {e}")))?;
        Ok(backend)
    }

    /// The server's key of a state key's value, version and expiry.
    fn data_key(&self, key: &[u8]) -> Vec<u8> {
        [&self.prefix[..], b"d:", key].concat()
    }

    /// The server's key of a state key's fencing token.
    fn fence_key(&self, key: &[u8]) -> Vec<u8> {
        [&self.prefix[..], b"f:", key].concat()
    }

    fn versions(&self) -> MutexGuard<'_, HlcClock> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_connection(&self) -> Result<Connection, RedisError> {
        let conn = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(conn)
    }

    /// Run `f` on an idle connection (or a new one); keep the connection for the
    /// next request unless the request failed on it. A read (`retry_read`) that
    /// finds an idle connection dropped (the server restarted, or closed it while
    /// idle) is tried once more on a new connection; a write is not, since it may
    /// have been applied.
    fn with_connection<T>(
        &self,
        retry_read: bool,
        f: impl Fn(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, RedisError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(mut conn) => match f(&mut conn) {
                Ok(answer) => return Ok(self.keep(conn, answer)),
                Err(e) if retry_read && (e.is_connection_dropped() || e.is_io_error()) => self.open_connection()?,
                Err(e) => return Err(e),
            },
            None => self.open_connection()?,
        };
        let answer = f(&mut conn)?;
        Ok(self.keep(conn, answer))
    }

    /// Put `conn` back among the idle connections; pass `answer` through.
    fn keep<T>(&self, conn: Connection, answer: T) -> T {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        answer
    }

    /// Run a script invocation; its answer as a list of byte strings.
    fn invoke(
        &self,
        operation: &'static str,
        key: &[u8],
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Vec<Vec<u8>>, StateStoreError> {
        self.with_connection(operation == "get", |conn| invocation.invoke::<Vec<Vec<u8>>>(conn))
            .map_err(|e| self.error(operation, key, e.to_string(), e.is_timeout()))
    }

    fn error(&self, operation: &'static str, key: &[u8], reason: String, timed_out: bool) -> StateStoreError {
        let (store, key) = (self.store.clone(), String::from_utf8_lossy(key).into_owned());
        if timed_out {
            StateStoreError::Timeout { store, operation, key, reason }
        } else {
            StateStoreError::Backend { store, operation, key, reason }
        }
    }

    /// The version in a script's answer at `index`.
    fn version_at(
        &self,
        operation: &'static str,
        key: &[u8],
        reply: &[Vec<u8>],
        index: usize,
    ) -> Result<Hlc, StateStoreError> {
        reply
            .get(index)
            .and_then(|text| std::str::from_utf8(text).ok())
            .and_then(parse_version)
            .ok_or_else(|| self.unexpected(operation, key, reply))
    }

    fn unexpected(&self, operation: &'static str, key: &[u8], reply: &[Vec<u8>]) -> StateStoreError {
        let shown: Vec<_> = reply.iter().map(|part| String::from_utf8_lossy(part).into_owned()).collect();
        let reason = format!("unexpected answer from the server: {shown:?} (is another program using the key prefix?)");
        self.error(operation, key, reason, false)
    }

    fn fenced(&self, operation: &'static str, key: &[u8], token: Option<&Hlc>, reply: &[Vec<u8>]) -> StateStoreError {
        match (token, self.version_at(operation, key, reply, 1)) {
            (Some(token), Ok(current)) => StateStoreError::FencingTokenTooOld {
                key: String::from_utf8_lossy(key).into_owned(),
                given: token.to_wire(),
                current: current.to_wire(),
            },
            (_, Err(e)) => e,
            (None, Ok(_)) => self.unexpected(operation, key, reply),
        }
    }

    /// One try of a set with a fresh version: `Ok(Err(newer))` when the key holds
    /// a version not older than ours.
    fn try_set(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<Result<SetResponse, Hlc>, StateStoreError> {
        let now = unix_nanos(self.clock.now());
        let version = self.versions().tick(now);
        let condition = match options.conditions {
            SetConditions::Unconditional => "any",
            SetConditions::OnlyIfDoesNotExist => "nx",
            SetConditions::OnlyIfEqualOrDoesNotExist => "eq",
        };
        let expires_at = expiry_nanos(now, options.expires).map(nanos_text).unwrap_or_default();
        let ttl_ms = options.expires.map(|d| d.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS as u128) as u64);
        let mut invocation = self.scripts.set.prepare_invoke();
        invocation.key(self.data_key(key)).key(self.fence_key(key));
        invocation.arg(token.map(version_text).unwrap_or_default()).arg(nanos_text(now)).arg(condition);
        invocation.arg(value).arg(version_text(&version)).arg(expires_at).arg(ttl_ms.unwrap_or(0));
        let reply = self.invoke("set", key, &invocation)?;
        match reply.first().map(Vec::as_slice) {
            Some(b"written") => Ok(Ok(SetResponse { written: true, version: Some(version) })),
            Some(b"kept") => {
                Ok(Ok(SetResponse { written: false, version: Some(self.version_at("set", key, &reply, 1)?) }))
            }
            Some(b"behind") => Ok(Err(self.version_at("set", key, &reply, 1)?)),
            Some(b"fenced") => Err(self.fenced("set", key, token, &reply)),
            _ => Err(self.unexpected("set", key, &reply)),
        }
    }

    fn remove(&self, key: &[u8], only_if: Option<&[u8]>, token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        let operation = if only_if.is_some() { "vdel" } else { "del" };
        let now = unix_nanos(self.clock.now());
        let mut invocation = self.scripts.del.prepare_invoke();
        invocation.key(self.data_key(key)).key(self.fence_key(key));
        invocation.arg(token.map(version_text).unwrap_or_default()).arg(nanos_text(now)).arg(operation);
        invocation.arg(only_if.unwrap_or_default());
        let reply = self.invoke(operation, key, &invocation)?;
        match reply.first().map(Vec::as_slice) {
            Some(b"deleted") => Ok(DelResponse { deleted: 1, version: Some(self.versions().tick(now)) }),
            Some(b"kept") => Ok(DelResponse { deleted: 0, version: None }),
            Some(b"fenced") => Err(self.fenced(operation, key, token, &reply)),
            _ => Err(self.unexpected(operation, key, &reply)),
        }
    }

    /// Every data key under the prefix (SCAN, so the server is never blocked).
    fn scan_data_keys(&self, conn: &mut Connection) -> Result<Vec<Vec<u8>>, RedisError> {
        let pattern = [glob_escape(&self.prefix), b"d:*".to_vec()].concat();
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(conn)?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("store", &self.store).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl StateBackend for RedisBackend {
    fn get(&self, key: &[u8]) -> Result<GetResponse, StateStoreError> {
        let mut invocation = self.scripts.get.prepare_invoke();
        invocation.key(self.data_key(key)).arg(nanos_text(unix_nanos(self.clock.now())));
        let reply = self.invoke("get", key, &invocation)?;
        match reply.len() {
            0 => Ok(GetResponse::default()),
            2 => {
                let version = self.version_at("get", key, &reply, 1)?;
                let value = reply.into_iter().next();
                Ok(GetResponse { value, version: Some(version) })
            }
            _ => Err(self.unexpected("get", key, &reply)),
        }
    }

    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError> {
        for _ in 0..MAX_VERSION_TRIES {
            match self.try_set(key, value, fencing_token, options)? {
                Ok(answer) => return Ok(answer),
                Err(newer) => {
                    self.versions().observe(&newer);
                }
            }
        }
        let reason = format!(
            "another process wrote a newer version each of {MAX_VERSION_TRIES} times (its clock is ahead of ours \
             and it keeps writing the key)"
        );
        Err(self.error("set", key, reason, false))
    }

    fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, None, fencing_token)
    }

    fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, Some(value), fencing_token)
    }

    fn entries(&self) -> Result<Vec<KeyValue>, StateStoreError> {
        let now = nanos_text(unix_nanos(self.clock.now()));
        let skip = self.prefix.len() + 2;
        let rows = self
            .with_connection(true, |conn| {
                let keys = self.scan_data_keys(conn)?;
                if keys.is_empty() {
                    return Ok(Vec::new()); // Redis refuses an empty pipeline.
                }
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("HMGET").arg(key).arg("v").arg("exp");
                }
                let rows: Vec<(Option<Vec<u8>>, Option<String>)> = pipe.query(conn)?;
                Ok(keys.into_iter().zip(rows).collect::<Vec<_>>())
            })
            .map_err(|e| self.error("entries", b"", e.to_string(), e.is_timeout()))?;
        let mut all: Vec<_> = rows
            .into_iter()
            .filter_map(|(key, (value, expires_at))| {
                let live = expires_at.is_none_or(|at| now < at);
                Some((key.get(skip..)?.to_vec(), value.filter(|_| live)?))
            })
            .collect();
        all.sort();
        Ok(all)
    }

    fn describe(&self) -> String {
        self.store.clone()
    }
}

/// `url` with its password (if any) replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    let userinfo = &rest[..at];
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// `bytes` with the glob characters of Redis `MATCH` patterns escaped.
fn glob_escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("redis://:secret@host:6379/0"), "redis://:***@host:6379/0");
        assert_eq!(redact("redis://user:secret@host/"), "redis://user:***@host/");
        assert_eq!(redact("redis://user@host/"), "redis://user@host/");
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\".to_vec());
        assert_eq!(glob_escape(b"wasmgraph:"), b"wasmgraph:".to_vec());
    }
}
