//! The `schema-registry` interface, served from local files.
//!
//! `get(id, version)` reads `<schema_dir>/<id>-<version>.json` when `version` is
//! not empty and that file exists, else `<schema_dir>/<id>.json`. The schema's
//! `name` is the id, `namespace` is empty, `format` is json, `hash` is the
//! sha256 of the content in hex, and `version` is the requested version (or
//! "1" when none was given). Without a schema directory, or for an id holding a
//! path separator or `..`, the answer is `not-found`. Timeouts are ignored.

use sha2::{Digest, Sha256};

use crate::bindings::imports::schema_registry::{self, Duration, Schema, SchemaError};
use crate::bindings::imports::schema_types::{SchemaFormat, SchemaType};
use crate::state::Api;

fn safe(part: &str) -> bool {
    !part.is_empty() && !part.contains(['/', '\\']) && !part.contains("..")
}

impl schema_registry::Host for Api<'_> {
    fn get(
        &mut self,
        id: String,
        version: String,
        _timeout: Duration,
    ) -> wasmtime::Result<Result<Schema, SchemaError>> {
        let Some(dir) = &self.ctx.services.schema_dir else {
            return Ok(Err(SchemaError::NotFound));
        };
        if !safe(&id) || !(version.is_empty() || safe(&version)) {
            return Ok(Err(SchemaError::NotFound));
        }
        let mut candidates = Vec::new();
        if !version.is_empty() {
            candidates.push(dir.join(format!("{id}-{version}.json")));
        }
        candidates.push(dir.join(format!("{id}.json")));
        for path in candidates {
            match std::fs::read_to_string(&path) {
                Ok(content) => {
                    let hash = hex::encode(Sha256::digest(content.as_bytes()));
                    return Ok(Ok(Schema {
                        description: None,
                        display_name: None,
                        format: SchemaFormat::Json,
                        hash: Some(hash),
                        name: id,
                        namespace: String::new(),
                        schema_content: content,
                        schema_type: SchemaType::MessageSchema,
                        tags: Vec::new(),
                        version: if version.is_empty() { "1".to_string() } else { version },
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Ok(Err(SchemaError::Internal(format!("cannot read {}: {e}", path.display()))));
                }
            }
        }
        Ok(Err(SchemaError::NotFound))
    }
}
