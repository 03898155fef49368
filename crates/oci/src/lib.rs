//! Modules and graph definitions as OCI artifacts, the way AIO ships them.
//!
//! * [`Reference`]: `host[:port]/repo/name:tag` or `…@sha256:<hex>`; a reference
//!   without a host resolves against a [`RegistryEndpoint`] (its host and
//!   optional repository prefix: AIO has used both conventions).
//! * [`RegistryEndpoint`]: where a registry is and how to reach it (anonymous,
//!   basic, Docker `config.json` credentials or a bearer token; TLS with a
//!   custom CA; plain HTTP only when asked). [`RegistryEndpointSpec`] is its
//!   shape in deployment files.
//! * [`Registry`]: push and pull of modules (one `application/wasm` layer) and
//!   graphs (one `application/yaml` layer, config
//!   `application/vnd.microsoft.aio.graph.v1+yaml`) as ORAS does, every byte
//!   verified against its digest and kept in a content-addressed [`Cache`], so
//!   a restart without network runs from the cache.
//!
//! The API is blocking (the runtime and the CLI are): each [`Registry`] owns a
//! small tokio runtime for the HTTP client.

mod artifact;
mod cache;
mod endpoint;
mod error;
mod reference;
mod registry;

pub use artifact::{
    ArtifactKind, GRAPH_CONFIG_MEDIA_TYPE, GRAPH_LAYER_MEDIA_TYPE, MODULE_ARTIFACT_TYPE, MODULE_LAYER_MEDIA_TYPE,
};
pub use cache::Cache;
pub use endpoint::{Auth, AuthMethod, AuthenticationSpec, RegistryEndpoint, RegistryEndpointSpec, TlsSpec};
pub use error::OciError;
pub use reference::{looks_like_reference, Reference};
pub use registry::{Pulled, Pushed, Registry};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
