//! Push and pull against one registry endpoint, through the cache.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::{OciImageManifest, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;

use crate::artifact::{content_layer, manifest_for};
use crate::{sha256_digest, ArtifactKind, Cache, OciError, Reference, RegistryEndpoint};

/// The largest layer pulled (modules and graphs are far smaller; this stops a
/// hostile registry from filling memory and disk).
const MAX_LAYER_BYTES: i64 = 512 << 20;

/// What a push stored.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Where it went.
    pub reference: Reference,
    /// The manifest's digest: pull `reference@digest` to get exactly this.
    pub digest: String,
    /// The content layer's digest.
    pub layer_digest: String,
    /// The content's size in bytes.
    pub size: u64,
}

/// A pulled (or cached) artifact, verified.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// What was asked for.
    pub reference: Reference,
    /// Module or graph.
    pub kind: ArtifactKind,
    /// The manifest's digest (what the tag pointed at).
    pub manifest_digest: String,
    /// The content layer's digest.
    pub layer_digest: String,
    /// The content, in the cache.
    pub path: PathBuf,
    /// True when the registry was not asked (a pinned digest already cached)
    /// or could not be reached (the tag's last known digest).
    pub from_cache: bool,
}

/// A client for registries: one endpoint's host, prefix, credentials and TLS
/// settings for references without a host (and for its own host), anonymous
/// or Docker-config credentials for other hosts; pulls go through `cache`.
pub struct Registry {
    endpoint: Option<RegistryEndpoint>,
    client: oci_client::Client,
    runtime: tokio::runtime::Runtime,
    cache: Cache,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("endpoint", &self.endpoint).field("cache", &self.cache).finish()
    }
}

impl Registry {
    /// A client for `endpoint` (if any) whose pulls are kept in `cache`.
    pub fn new(endpoint: Option<RegistryEndpoint>, cache: Cache) -> Result<Self, OciError> {
        let mut config = ClientConfig {
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(60)),
            platform_resolver: None,
            ..ClientConfig::default()
        };
        if let Some(e) = &endpoint {
            if e.insecure_http {
                config.protocol = ClientProtocol::HttpsExcept(vec![e.host.clone()]);
            }
            if let Some(ca) = &e.ca_file {
                let data = std::fs::read(ca).map_err(|err| OciError::io(ca, err))?;
                if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(OciError::Endpoint(format!("{}: not a PEM certificate file", ca.display())));
                }
                config.extra_root_certificates.push(Certificate { encoding: CertificateEncoding::Pem, data });
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OciError::Endpoint(format!("starting the HTTP client's runtime: {e}")))?;
        Ok(Registry { endpoint, client: oci_client::Client::new(config), runtime, cache })
    }

    /// The endpoint references without a host resolve against.
    pub fn endpoint(&self) -> Option<&RegistryEndpoint> {
        self.endpoint.as_ref()
    }

    /// Where pulls are kept.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Parse `text`, resolving a reference without a host against the endpoint.
    pub fn resolve(&self, text: &str) -> Result<Reference, OciError> {
        Reference::resolve(text, self.endpoint.as_ref())
    }

    /// Push the file at `path` (a `.wasm` component or a graph definition,
    /// told apart by content) under `reference`'s tag.
    pub fn push_file(&self, path: &Path, reference: &Reference) -> Result<Pushed, OciError> {
        let bytes = std::fs::read(path).map_err(|e| OciError::io(path, e))?;
        let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.push(ArtifactKind::of_content(&bytes), &bytes, &title, reference)
    }

    /// Push `bytes` as one artifact of `kind` (layer titled `title`).
    pub fn push(
        &self,
        kind: ArtifactKind,
        bytes: &[u8],
        title: &str,
        reference: &Reference,
    ) -> Result<Pushed, OciError> {
        if reference.digest.is_some() || reference.tag.is_none() {
            return Err(OciError::Reference {
                reference: reference.to_string(),
                reason: "push needs a tag (`:<tag>`), not a digest".into(),
            });
        }
        let (manifest, config) = manifest_for(kind, bytes, title);
        let body = serde_json::to_vec(&manifest).map_err(|e| OciError::Artifact {
            reference: reference.to_string(),
            reason: format!("cannot encode the manifest: {e}"),
        })?;
        let digest = sha256_digest(&body);
        let image = reference.to_client();
        let auth = self.auth_for(reference)?;
        let fail = |e| classify(reference, "push", e);
        self.block_on(async {
            self.client.auth(&image, &auth, RegistryOperation::Push).await.map_err(fail)?;
            self.client.push_blob(&image, bytes.to_vec(), &manifest.layers[0].digest).await.map_err(fail)?;
            self.client.push_blob(&image, config, &manifest.config.digest).await.map_err(fail)?;
            let content_type = http_header(OCI_IMAGE_MEDIA_TYPE);
            self.client.push_manifest_raw(&image, body, content_type).await.map_err(fail)
        })?;
        Ok(Pushed {
            reference: reference.clone(),
            digest,
            layer_digest: manifest.layers[0].digest.clone(),
            size: bytes.len() as u64,
        })
    }

    /// Pull `reference` into the cache, verified. A pinned digest already
    /// cached is not fetched again; when the registry cannot be reached, a
    /// tag's last pulled digest is used from the cache (with a warning).
    pub fn pull(&self, reference: &Reference) -> Result<Pulled, OciError> {
        if let Some(digest) = &reference.digest {
            if let Some(p) = self.cached(reference, digest)? {
                return Ok(p);
            }
        }
        match self.block_on(self.pull_remote(reference)) {
            Err(e @ OciError::Unreachable { .. }) => {
                let cached = match self.cache.tag_digest(reference) {
                    Some(d) => self.cached(reference, &d)?,
                    None => None,
                };
                let Some(p) = cached else { return Err(e) };
                tracing::warn!("{e}; using the cached {} ({})", p.kind.as_str(), p.manifest_digest);
                Ok(p)
            }
            other => other,
        }
    }

    /// The digest `reference`'s tag points at now (asks the registry).
    pub fn current_digest(&self, reference: &Reference) -> Result<String, OciError> {
        let auth = self.auth_for(reference)?;
        self.block_on(self.client.fetch_manifest_digest(&reference.to_client(), &auth))
            .map_err(|e| classify(reference, "resolve", e))
    }

    async fn pull_remote(&self, r: &Reference) -> Result<Pulled, OciError> {
        let auth = self.auth_for(r)?;
        let image = r.to_client();
        let accept = [OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE];
        let (body, header_digest) =
            self.client.pull_manifest_raw(&image, &auth, &accept).await.map_err(|e| classify(r, "pull", e))?;
        let actual = sha256_digest(&body);
        let expected = r.digest.clone().unwrap_or(header_digest);
        if actual != expected {
            return Err(OciError::DigestMismatch {
                what: "manifest".into(),
                reference: r.to_string(),
                expected,
                actual,
            });
        }
        let (kind, layer) = parse_manifest(r, &body)?;
        if self.cache.read_blob(&layer.digest).is_none() {
            let mut out = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
            self.client.pull_blob(&image, &layer, &mut out).await.map_err(|e| classify(r, "pull", e))?;
            self.cache.put_blob(r, "layer", &layer.digest, &out)?;
        }
        self.cache.put_blob(r, "manifest", &actual, &body)?;
        if r.digest.is_none() {
            self.cache.set_tag(r, &actual)?;
        }
        let path = self.cache.blob_path(&layer.digest);
        Ok(Pulled {
            reference: r.clone(),
            kind,
            manifest_digest: actual,
            layer_digest: layer.digest,
            path,
            from_cache: false,
        })
    }

    /// The artifact of `manifest_digest` if its manifest and layer are cached intact.
    fn cached(&self, r: &Reference, manifest_digest: &str) -> Result<Option<Pulled>, OciError> {
        let Some(body) = self.cache.read_blob(manifest_digest) else { return Ok(None) };
        let (kind, layer) = parse_manifest(r, &body)?;
        if self.cache.read_blob(&layer.digest).is_none() {
            return Ok(None);
        }
        Ok(Some(Pulled {
            reference: r.clone(),
            kind,
            manifest_digest: manifest_digest.to_string(),
            path: self.cache.blob_path(&layer.digest),
            layer_digest: layer.digest,
            from_cache: true,
        }))
    }

    /// The endpoint's credentials for its own host; Docker's for others.
    fn auth_for(&self, r: &Reference) -> Result<RegistryAuth, OciError> {
        match &self.endpoint {
            Some(e) if e.host == r.registry => e.client_auth(),
            _ => {
                let mut other = RegistryEndpoint::anonymous(&r.registry);
                other.auth = crate::Auth::DockerConfig(None);
                other.client_auth()
            }
        }
    }

    /// Run `f` on this client's runtime, also from inside another tokio
    /// runtime (on a thread of its own then, since tokio forbids nesting).
    fn block_on<F: Future + Send>(&self, f: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(f)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        } else {
            self.runtime.block_on(f)
        }
    }
}

/// The manifest's content layer, with its size checked.
fn parse_manifest(r: &Reference, body: &[u8]) -> Result<(ArtifactKind, oci_client::manifest::OciDescriptor), OciError> {
    let bad = |reason: String| OciError::Artifact { reference: r.to_string(), reason };
    let manifest: OciImageManifest =
        serde_json::from_slice(body).map_err(|e| bad(format!("not an OCI image manifest: {e}")))?;
    let (kind, layer) = content_layer(&manifest).map_err(bad)?;
    if !(0..=MAX_LAYER_BYTES).contains(&layer.size) {
        return Err(bad(format!("layer of {} bytes; the limit is {MAX_LAYER_BYTES}", layer.size)));
    }
    Ok((kind, layer.clone()))
}

fn http_header(value: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(value)
}

/// The client's error in wasmgraph's terms: unreachable, digest mismatch or
/// the registry's answer, with the whole cause chain.
fn classify(r: &Reference, operation: &'static str, e: OciDistributionError) -> OciError {
    match e {
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            OciError::DigestMismatch { what: "layer".into(), reference: r.to_string(), expected, actual }
        }
        OciDistributionError::RequestError(ref re) if re.is_connect() || re.is_timeout() => {
            let reason = chain(&e);
            if reason.contains("certificate") {
                // Not an outage: the registry is there but not trusted.
                let reason = format!("TLS: {reason} (pass the registry's CA with --registry-ca or `tls.caFile`)");
                return OciError::Registry { reference: r.to_string(), operation, reason };
            }
            OciError::Unreachable { reference: r.to_string(), registry: r.registry.clone(), reason }
        }
        other => {
            let mut reason = chain(&other);
            if reason.contains("code: 401") || reason.contains("code: 403") {
                reason = format!("the registry refused the credentials ({reason})");
            }
            OciError::Registry { reference: r.to_string(), operation, reason }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
