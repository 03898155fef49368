//! Which backend a deployment uses, as users write it in deployment files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{EmbeddedBackend, RedisBackend, StateStore, StateStoreError, DEFAULT_NODE_ID};

/// The key prefix of a Redis store whose configuration names none.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "wasmgraph:state:";

/// Where a graph's state store keeps its keys. In YAML:
///
/// ```yaml
/// stateStore:
///   type: memory            # this process only; a restart forgets every key
/// ---
/// stateStore:
///   type: embedded          # a redb file; keys survive restarts (one process)
///   path: state/graph.redb  # relative to the deployment file's folder
/// ---
/// stateStore:
///   type: redis             # shared by every process using the same server
///   url: redis://127.0.0.1:6379/0
///   keyPrefix: "plant-a:"   # optional, default "wasmgraph:state:"
/// ```
///
/// Unknown fields are errors, so a misspelt `keyPrefix` is not silently ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum StateStoreConfig {
    /// In memory, in this process only (the default). Nothing survives a
    /// restart and other processes cannot see it. (A struct variant without
    /// fields, so that stray fields such as `path` are refused, not ignored.)
    Memory {},
    /// A [redb](https://www.redb.org) database file: keys, versions, expiry and
    /// fencing tokens survive a restart. The file is locked by the one process
    /// that uses it; for a cluster of processes use `redis`.
    Embedded {
        /// The database file, created with its folders when missing. A relative
        /// path is relative to the base folder given to [`StateStoreConfig::open`]
        /// (the deployment file's folder).
        path: PathBuf,
    },
    /// A Redis server shared by every process of a cluster: each request is an
    /// atomic script on the server, so versions, conditions and fencing tokens
    /// hold across processes. Keys survive a restart of wasmgraph; whether they
    /// survive a restart of Redis is Redis's persistence setting.
    #[serde(rename_all = "camelCase")]
    Redis {
        /// `redis://[user:password@]host[:port][/db]` or `redis+unix:///path`.
        url: String,
        /// Prefix of every key this store writes on the server, so that several
        /// graphs can share one server; default [`DEFAULT_REDIS_KEY_PREFIX`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_prefix: Option<String>,
    },
}

impl Default for StateStoreConfig {
    /// [`StateStoreConfig::Memory`], as before backends could be chosen.
    fn default() -> Self {
        StateStoreConfig::Memory {}
    }
}

impl StateStoreConfig {
    /// Open (or connect to) the configured store; relative paths are resolved
    /// against `base_dir`. Versions carry the node id `state-store`.
    pub fn open(&self, base_dir: &Path) -> Result<StateStore, StateStoreError> {
        self.open_with_node_id(base_dir, DEFAULT_NODE_ID)
    }

    /// Like [`open`](Self::open), with versions carrying `node_id` (say, one per
    /// process of a cluster, so that a version tells which process wrote it).
    pub fn open_with_node_id(&self, base_dir: &Path, node_id: &str) -> Result<StateStore, StateStoreError> {
        Ok(match self {
            StateStoreConfig::Memory {} => StateStore::with_node_id(node_id),
            StateStoreConfig::Embedded { path } => {
                StateStore::from_backend(EmbeddedBackend::open(base_dir.join(path), node_id)?)
            }
            StateStoreConfig::Redis { url, key_prefix } => {
                let prefix = key_prefix.as_deref().unwrap_or(DEFAULT_REDIS_KEY_PREFIX);
                StateStore::from_backend(RedisBackend::connect(url, prefix, node_id)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<StateStoreConfig, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn yaml_shapes() {
        assert_eq!(parse("type: memory").unwrap(), StateStoreConfig::Memory {});
        assert_eq!(
            parse("type: embedded\npath: state/graph.redb").unwrap(),
            StateStoreConfig::Embedded { path: "state/graph.redb".into() }
        );
        assert_eq!(
            parse("type: redis\nurl: redis://127.0.0.1:6379/0").unwrap(),
            StateStoreConfig::Redis { url: "redis://127.0.0.1:6379/0".into(), key_prefix: None }
        );
        assert_eq!(
            parse("type: redis\nurl: redis://h/\nkeyPrefix: 'a:'").unwrap(),
            StateStoreConfig::Redis { url: "redis://h/".into(), key_prefix: Some("a:".into()) }
        );
        assert_eq!(StateStoreConfig::default(), StateStoreConfig::Memory {});
    }

    #[test]
    fn yaml_mistakes_are_errors() {
        let e = parse("type: redis\nurl: redis://h/\nkey_prefix: a").unwrap_err();
        assert!(e.contains("key_prefix"), "{e}");
        let e = parse("type: embedded").unwrap_err();
        assert!(e.contains("path"), "{e}");
        let e = parse("type: sqlite").unwrap_err();
        assert!(e.contains("sqlite"), "{e}");
        let e = parse("type: memory\npath: x").unwrap_err();
        assert!(e.contains("path"), "{e}");
    }

    #[test]
    fn embedded_paths_are_relative_to_the_base_folder() {
        let dir = tempfile::tempdir().unwrap();
        let config = StateStoreConfig::Embedded { path: "nested/state.redb".into() };
        let store = config.open(dir.path()).unwrap();
        assert!(dir.path().join("nested/state.redb").is_file());
        assert!(store.describe().contains("nested/state.redb"), "{}", store.describe());
    }

    #[test]
    fn open_errors_say_what_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let config = StateStoreConfig::Embedded { path: ".".into() };
        let e = config.open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("embedded state store at") && e.contains("folder"), "{e}");

        let config = StateStoreConfig::Redis { url: "http://nowhere/".into(), key_prefix: None };
        let e = config.open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("http://nowhere/") && e.contains("not a usable Redis URL"), "{e}");

        // Nothing listens on a port we just freed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("redis://:hunter2@127.0.0.1:{port}/");
        let config = StateStoreConfig::Redis { url, key_prefix: Some("p:".into()) };
        let e = config.open(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}")) && e.contains("does not answer"), "{e}");
        assert!(!e.contains("hunter2"), "the password is not shown: {e}");
    }
}
