//! Settings of the file source and sink as deployment files write them.

use std::path::PathBuf;

use serde::Deserialize;

/// `source: {type: file, ...}`: every file of a folder, in name order, is one
/// message (as AIO's local tooling reads test input).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSourceSpec {
    /// The folder to read (relative to the deployment file).
    pub path: PathBuf,
    /// Topic of every file but `.raw` ones.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Topic of `.raw` files (image frames in AIO's samples).
    #[serde(default = "default_raw_topic")]
    pub raw_topic: String,
}

impl FileSourceSpec {
    /// Every file of `path`, on the default topics.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSourceSpec { path: path.into(), topic: default_topic(), raw_topic: default_raw_topic() }
    }
}

/// `sink: {type: file, ...}`: one JSON object per record and line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSinkSpec {
    /// The file to write (created, or truncated; relative to the deployment
    /// file). Its folder is created when missing.
    pub path: PathBuf,
}

/// The file connector has no endpoint; this exists so `type: file` reads the
/// same way as every other connector and is refused under `endpoints:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {}

/// The topic of ordinary files: `probe/1`, what AIO's local runs use.
pub fn default_topic() -> String {
    "probe/1".into()
}

/// The topic of `.raw` files: `snapshot_simulation`, as in AIO's samples.
pub fn default_raw_topic() -> String {
    "snapshot_simulation".into()
}
