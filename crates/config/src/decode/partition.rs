//! `partitionKey` on an operation: a wasmgraph extension (AIO graph
//! definitions have no partitioning field; a file without it is read as
//! before). It names where a keyed operation's key comes from, exactly one of
//! `userProperty: NAME`, `topicLevel: N` (from 1) or `jsonField: /json/pointer`.

use super::{display_path, Decoder, Fields, Kind, Node, Rule, ScalarType};
use crate::model::{PartitionKeySpec, Spanned};

const PARTITION_KEYS: &[&str] = &["userProperty", "topicLevel", "jsonField"];

impl Decoder<'_> {
    /// The operation's `partitionKey`, if any (null: none).
    pub(super) fn partition_key(&mut self, f: &Fields<'_>) -> Result<Option<Spanned<PartitionKeySpec>>, ()> {
        let Some(node) = f.get("partitionKey") else { return Ok(None) };
        if matches!(&node.kind, Kind::Scalar(s) if s.resolve() == ScalarType::Null) {
            return Ok(None);
        }
        let path = f.sub("partitionKey");
        let kf = self.fields_at(node, f.key_pos("partitionKey"), &path, PARTITION_KEYS).ok_or(())?;
        let [(kind, value)] = kf.entries[..] else {
            self.diags.push(
                kf.pos,
                Rule::InvalidValue,
                format!(
                    "`{}` takes exactly one of {}, e.g. `partitionKey: {{userProperty: sensor}}`",
                    display_path(&path),
                    PARTITION_KEYS.join(", ")
                ),
            );
            return Err(());
        };
        let spec = match kind {
            "topicLevel" => PartitionKeySpec::TopicLevel(self.topic_level(value, &kf.sub(kind))?),
            "userProperty" => PartitionKeySpec::UserProperty(self.key_text(value, &kf.sub(kind), "sensor")?),
            _ => {
                let pointer = self.key_text(value, &kf.sub(kind), "/sensor/id")?;
                if !pointer.starts_with('/') {
                    let message = format!(
                        "`{}` is a JSON pointer and starts with `/` (`/{pointer}` names the top-level member `{pointer}`)",
                        display_path(&kf.sub(kind))
                    );
                    self.diags.push(value.pos, Rule::InvalidValue, message);
                    return Err(());
                }
                PartitionKeySpec::JsonField(pointer)
            }
        };
        Ok(Some(Spanned::new(spec, node.pos)))
    }

    /// A non-empty string.
    fn key_text(&mut self, value: &Node, path: &str, example: &str) -> Result<String, ()> {
        match self.string(value, path)? {
            Some(s) if !s.value.is_empty() => Ok(s.value),
            _ => {
                let message = format!("`{}` is empty; give it a value, e.g. `{example}`", display_path(path));
                self.diags.push(value.pos, Rule::InvalidValue, message);
                Err(())
            }
        }
    }

    /// A topic level: a whole number from 1.
    fn topic_level(&mut self, value: &Node, path: &str) -> Result<usize, ()> {
        let text = match &value.kind {
            Kind::Scalar(s) if s.resolve() == ScalarType::Int => s.text.as_str(),
            _ => "",
        };
        match text.parse::<usize>() {
            Ok(level) if level >= 1 => Ok(level),
            _ => {
                let message = format!(
                    "`{}` must be a topic level counted from 1 (`a/b/c`: 2 is `b`), but it is {}",
                    display_path(path),
                    value.describe()
                );
                self.diags.push(value.pos, Rule::InvalidValue, message);
                Err(())
            }
        }
    }
}
