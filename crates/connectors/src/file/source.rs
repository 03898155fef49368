//! Read a directory of files as messages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmgraph_types::{Bytes, DataModel, Hlc, Message};

use crate::{ConnectorError, Incoming, Poll, Source};

/// Settings of the file source.
#[derive(Debug, Clone)]
pub struct FileSourceConfig {
    /// The directory to read.
    pub dir: PathBuf,
    /// Topic of `.raw` files (image frames in AIO's samples).
    pub raw_topic: String,
    /// Topic of every other file.
    pub topic: String,
    /// Time of the first file, in nanoseconds since the epoch.
    pub start_nanos: u64,
    /// Time between consecutive files.
    pub interval: Duration,
    /// Node id stamped into record times.
    pub node_id: String,
}

impl FileSourceConfig {
    /// The defaults for `dir`: topics `snapshot_simulation` and `probe/1`, and a
    /// replay clock that stamps file *i* at *i* seconds plus 1 ms after the epoch
    /// (the extra millisecond keeps the first file off a window boundary, so the
    /// first ten files share a 10-second window).
    ///
    /// The replay clock (rather than the wall clock) is what makes a run over a
    /// folder of files reproducible: windows and accumulations group the same
    /// records every time, so test cases can compare output exactly.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSourceConfig {
            dir: dir.into(),
            raw_topic: "snapshot_simulation".into(),
            topic: "probe/1".into(),
            start_nanos: 1_000_000,
            interval: Duration::from_secs(1),
            node_id: "file-source".into(),
        }
    }
}

/// Reads each file of a directory once, in name order.
#[derive(Debug)]
pub struct FileSource {
    config: FileSourceConfig,
    files: std::vec::IntoIter<PathBuf>,
    index: u64,
    /// (this part, parts): read only files whose index is this part modulo parts.
    part: (u64, u64),
}

impl FileSource {
    /// List the directory. Fails if it cannot be read; subdirectories and hidden
    /// files (names starting with `.`) are skipped.
    pub fn open(config: FileSourceConfig) -> Result<Self, ConnectorError> {
        let files = list_files(&config.dir)?;
        Ok(FileSource { config, files: files.into_iter(), index: 0, part: (0, 1) })
    }

    /// Read only part `index` of `parts`: the files whose position in name
    /// order is `index` modulo `parts` (a cluster's processes each read one
    /// part). A file keeps the time it has when every file is read, so the
    /// parts together are exactly the whole.
    pub fn part(mut self, index: u64, parts: u64) -> Self {
        self.part = (index, parts.max(1));
        self
    }

    /// How many files remain to be read.
    pub fn remaining(&self) -> usize {
        self.files.len()
    }
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>, ConnectorError> {
    let io = |source| ConnectorError::Io { path: dir.display().to_string(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // Follows symbolic links, as `wasmgraph publish` does: a link to a
        // file is that file's message.
        let meta = std::fs::metadata(entry.path())
            .map_err(|source| ConnectorError::Io { path: entry.path().display().to_string(), source })?;
        if meta.is_file() && !hidden {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

impl Source for FileSource {
    fn remaining(&self) -> Option<u64> {
        Some(self.files.len() as u64)
    }

    fn poll(&mut self, max: usize, _wait: Duration) -> Result<Poll, ConnectorError> {
        let mut out = Vec::new();
        while out.len() < max.max(1) {
            let Some(path) = self.files.next() else { break };
            if self.index % self.part.1 != self.part.0 {
                self.index += 1;
                continue;
            }
            let payload = std::fs::read(&path)
                .map_err(|source| ConnectorError::Io { path: path.display().to_string(), source })?;
            let raw = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("raw"));
            let topic = if raw { &self.config.raw_topic } else { &self.config.topic };
            let offset = self.config.interval.as_nanos() as u64 * self.index;
            let time = Hlc::new(self.config.start_nanos.saturating_add(offset), 0, self.config.node_id.as_str());
            self.index += 1;
            out.push(Incoming {
                data: DataModel::Message(Message {
                    timestamp: time.clone(),
                    topic: Bytes::from(topic.clone().into_bytes()),
                    payload: Bytes::from(payload),
                    ..Message::default()
                }),
                time: Some(time),
                ack: None,
            });
        }
        Ok(if out.is_empty() { Poll::End } else { Poll::Data(out) })
    }

    fn describe(&self) -> String {
        format!("files in {}", self.config.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_in_name_order_with_replay_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.json"), b"{\"b\":1}").unwrap();
        std::fs::write(dir.path().join("a.raw"), [0u8, 1, 2]).unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let mut src = FileSource::open(FileSourceConfig::new(dir.path())).unwrap();
        let Poll::Data(items) = src.poll(10, Duration::ZERO).unwrap() else { panic!("expected data") };
        assert_eq!(items.len(), 2);
        let DataModel::Message(first) = &items[0].data else { panic!() };
        assert_eq!(&first.topic[..], b"snapshot_simulation");
        assert_eq!(&first.payload[..], &[0, 1, 2]);
        let DataModel::Message(second) = &items[1].data else { panic!() };
        assert_eq!(&second.topic[..], b"probe/1");
        assert_eq!(items[1].time.as_ref().unwrap().nanos - items[0].time.as_ref().unwrap().nanos, 1_000_000_000);
        assert!(matches!(src.poll(10, Duration::ZERO).unwrap(), Poll::End));
    }

    #[test]
    fn symbolic_links_to_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.json");
        std::fs::write(&target, b"{}").unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        std::os::unix::fs::symlink(&target, input.join("a.json")).unwrap();
        let mut src = FileSource::open(FileSourceConfig::new(&input)).unwrap();
        let Poll::Data(items) = src.poll(10, Duration::ZERO).unwrap() else { panic!("expected data") };
        assert_eq!(items.len(), 1);
        assert_eq!(&items[0].data.payload()[..], b"{}");
        // A dangling link is an error naming it, not a silent skip.
        std::os::unix::fs::symlink(dir.path().join("gone"), input.join("b.json")).unwrap();
        let err = FileSource::open(FileSourceConfig::new(&input)).unwrap_err().to_string();
        assert!(err.contains("b.json"), "{err}");
    }

    #[test]
    fn missing_directory_names_the_path() {
        let err = FileSource::open(FileSourceConfig::new("/no/such/dir")).unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
    }
}
