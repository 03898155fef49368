//! What a module and a graph look like as OCI artifacts (ORAS's layout, as
//! AIO documents it), and which layer of a pulled manifest holds the content.

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest, OCI_IMAGE_MEDIA_TYPE};

/// The layer media type of a module, as `wasmgraph push` writes it.
pub const MODULE_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The artifact type of a module (`oras push --artifact-type ...`).
pub const MODULE_ARTIFACT_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
/// The layer media type of a graph definition.
pub const GRAPH_LAYER_MEDIA_TYPE: &str = "application/yaml";
/// The config media type of a graph definition (`oras push --config /dev/null:...`).
pub const GRAPH_CONFIG_MEDIA_TYPE: &str = "application/vnd.microsoft.aio.graph.v1+yaml";

/// The empty JSON config ORAS writes when only an artifact type is given.
const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
const TITLE: &str = "org.opencontainers.image.title";

/// Layer media types read as a module: ours and ORAS/AIO's, the CNCF Wasm
/// artifact's, and the older Solo.io convention.
const MODULE_LAYERS: &[&str] = &[
    MODULE_LAYER_MEDIA_TYPE,
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.module.wasm.content.layer.v1+wasm",
    "application/vnd.wasm.component.v1+wasm",
];
/// Config media types that mark a module artifact.
const MODULE_CONFIGS: &[&str] = &[
    "application/vnd.wasm.config.v1+json",
    "application/vnd.wasm.config.v0+json",
    "application/vnd.module.wasm.config.v1+json",
];
/// Layer media types read as a graph definition.
const GRAPH_LAYERS: &[&str] = &[GRAPH_LAYER_MEDIA_TYPE, "application/x-yaml", "text/yaml", "text/x-yaml"];

/// What an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// A WebAssembly component.
    Module,
    /// A graph definition (YAML).
    Graph,
}

impl ArtifactKind {
    /// `module` or `graph`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Module => "module",
            ArtifactKind::Graph => "graph",
        }
    }

    /// Told apart by content: a Wasm binary starts with `\0asm`, anything
    /// else is taken as a graph definition.
    pub fn of_content(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"\0asm") {
            ArtifactKind::Module
        } else {
            ArtifactKind::Graph
        }
    }

    /// The file extension a pulled artifact of this kind gets.
    pub fn extension(self) -> &'static str {
        match self {
            ArtifactKind::Module => "wasm",
            ArtifactKind::Graph => "yaml",
        }
    }
}

/// The manifest and config blob for one file of `kind`, as ORAS writes them.
pub(crate) fn manifest_for(kind: ArtifactKind, layer: &[u8], title: &str) -> (OciImageManifest, Vec<u8>) {
    let (layer_type, config_type, config, artifact_type) = match kind {
        ArtifactKind::Module => {
            (MODULE_LAYER_MEDIA_TYPE, EMPTY_CONFIG_MEDIA_TYPE, EMPTY_CONFIG.to_vec(), Some(MODULE_ARTIFACT_TYPE))
        }
        ArtifactKind::Graph => (GRAPH_LAYER_MEDIA_TYPE, GRAPH_CONFIG_MEDIA_TYPE, Vec::new(), None),
    };
    let descriptor = |media_type: &str, bytes: &[u8], annotations| OciDescriptor {
        media_type: media_type.to_string(),
        digest: crate::sha256_digest(bytes),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        annotations,
        ..OciDescriptor::default()
    };
    let title = BTreeMap::from([(TITLE.to_string(), title.to_string())]);
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_string()),
        config: descriptor(config_type, &config, None),
        layers: vec![descriptor(layer_type, layer, Some(title))],
        subject: None,
        artifact_type: artifact_type.map(str::to_string),
        annotations: None,
    };
    (manifest, config)
}

/// The one layer of a pulled manifest that holds a module or graph, and which.
pub(crate) fn content_layer(manifest: &OciImageManifest) -> Result<(ArtifactKind, &OciDescriptor), String> {
    let config = manifest.config.media_type.as_str();
    let artifact = manifest.artifact_type.as_deref().unwrap_or("");
    let by_type = |d: &&OciDescriptor| {
        let t = d.media_type.as_str();
        if MODULE_LAYERS.contains(&t) {
            Some(ArtifactKind::Module)
        } else if GRAPH_LAYERS.contains(&t) {
            Some(ArtifactKind::Graph)
        } else {
            None
        }
    };
    let known: Vec<(ArtifactKind, &OciDescriptor)> =
        manifest.layers.iter().filter_map(|d| by_type(&d).map(|k| (k, d))).collect();
    match known.as_slice() {
        [(kind, d)] => Ok((*kind, d)),
        [] if manifest.layers.len() == 1 && (MODULE_CONFIGS.contains(&config) || artifact == MODULE_ARTIFACT_TYPE) => {
            Ok((ArtifactKind::Module, &manifest.layers[0]))
        }
        [] if manifest.layers.len() == 1 && config == GRAPH_CONFIG_MEDIA_TYPE => {
            Ok((ArtifactKind::Graph, &manifest.layers[0]))
        }
        [] => Err(format!(
            "no layer holds a module ({}) or graph ({}); layers: {}",
            MODULE_LAYERS.join(", "),
            GRAPH_LAYERS.join(", "),
            manifest.layers.iter().map(|d| d.media_type.as_str()).collect::<Vec<_>>().join(", ")
        )),
        _ => Err(format!("{} layers hold modules or graphs; expected exactly one", known.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_manifests_are_read_back() {
        for kind in [ArtifactKind::Module, ArtifactKind::Graph] {
            let (m, _) = manifest_for(kind, b"\0asm....", "x");
            let (found, d) = content_layer(&m).unwrap();
            assert_eq!(found, kind);
            assert_eq!(d.digest, crate::sha256_digest(b"\0asm...."));
        }
        let (m, config) = manifest_for(ArtifactKind::Graph, b"a: 1", "g.yaml");
        assert_eq!(m.config.media_type, GRAPH_CONFIG_MEDIA_TYPE);
        assert!(config.is_empty());
    }

    #[test]
    fn other_conventions_are_accepted() {
        let (mut m, _) = manifest_for(ArtifactKind::Module, b"\0asm", "x");
        m.layers[0].media_type = "application/vnd.wasm.content.layer.v1+wasm".into();
        m.artifact_type = None;
        m.config.media_type = "application/vnd.wasm.config.v1+json".into();
        assert_eq!(content_layer(&m).unwrap().0, ArtifactKind::Module);
        // An unknown layer type, recognized by the module config.
        m.layers[0].media_type = "application/octet-stream".into();
        assert_eq!(content_layer(&m).unwrap().0, ArtifactKind::Module);
        m.config.media_type = "application/vnd.oci.image.config.v1+json".into();
        assert!(content_layer(&m).unwrap_err().contains("no layer holds"));
    }
}
