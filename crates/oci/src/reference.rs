//! OCI references: `host[:port]/repository:tag` and `…@sha256:<hex>`.

use std::fmt;

use crate::{OciError, RegistryEndpoint};

/// A resolved reference to one artifact in one registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, e.g. `127.0.0.1:5000` or `contoso.azurecr.io`.
    pub registry: String,
    /// The repository path, e.g. `wasm/temperature`.
    pub repository: String,
    /// The tag, e.g. `1.0.0`.
    pub tag: Option<String>,
    /// A pinned digest, `sha256:<64 hex>`; when set it wins over the tag.
    pub digest: Option<String>,
}

/// The parts of a reference as written, before a registry is chosen.
struct Written<'a> {
    host: Option<&'a str>,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl Reference {
    /// Parse a reference that names its registry (`host[:port]/repo:tag`).
    pub fn parse(text: &str) -> Result<Self, OciError> {
        Self::resolve(text, None)
    }

    /// Parse `text`; a reference without a host (`name:tag`,
    /// `path/name:tag`) is taken to live at `endpoint`'s host, under its
    /// repository prefix unless the path already starts with it.
    pub fn resolve(text: &str, endpoint: Option<&RegistryEndpoint>) -> Result<Self, OciError> {
        let text = text.trim();
        let bad = |reason: String| OciError::Reference { reference: text.to_string(), reason };
        let w = split(text).map_err(bad)?;
        let (registry, repository) =
            match (w.host, endpoint) {
                (Some(host), _) => (host.to_string(), w.path.to_string()),
                (None, Some(e)) => (e.host.clone(), e.repository_for(w.path)),
                (None, None) => return Err(bad(
                    "it names no registry host; write `host[:port]/repository:tag` or configure a registry endpoint"
                        .into(),
                )),
            };
        Ok(Reference { registry, repository, tag: w.tag.map(str::to_string), digest: w.digest.map(str::to_string) })
    }

    /// The same artifact pinned to `digest`.
    pub fn with_digest(&self, digest: &str) -> Self {
        Reference { digest: Some(digest.to_string()), ..self.clone() }
    }

    /// The oci-client form of this reference (the digest wins over the tag).
    pub(crate) fn to_client(&self) -> oci_client::Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => {
                oci_client::Reference::with_digest(self.registry.clone(), self.repository.clone(), d.clone())
            }
            (None, Some(t)) => {
                oci_client::Reference::with_tag(self.registry.clone(), self.repository.clone(), t.clone())
            }
            (None, None) => {
                oci_client::Reference::with_tag(self.registry.clone(), self.repository.clone(), "latest".into())
            }
        }
    }

    /// The last path segment (the module or graph name).
    pub fn name(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// True when `text` reads as an OCI reference (a tag or digest on a
/// repository path) rather than a file name: `name:1.0`, `host/x@sha256:..`;
/// not `x.wasm`, `graph.yaml` or a plain name.
pub fn looks_like_reference(text: &str) -> bool {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    if [".wasm", ".yaml", ".yml", ".json"].iter().any(|ext| lower.ends_with(ext)) || text.contains(char::is_whitespace)
    {
        return false;
    }
    split(text).is_ok_and(|w| w.tag.is_some() || w.digest.is_some())
}

fn split(text: &str) -> Result<Written<'_>, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let (rest, digest) = match text.split_once('@') {
        Some((r, d)) => (r, Some(check_digest(d)?)),
        None => (text, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match rest[slash..].split_once(':') {
        Some((name, tag)) => (&rest[..slash + name.len()], Some(check_tag(tag)?)),
        None => (rest, None),
    };
    if tag.is_none() && digest.is_none() {
        return Err("it has no tag or digest; add `:<tag>` or `@sha256:<digest>`".into());
    }
    let (host, path) = match path.split_once('/') {
        Some((first, rest)) if is_host(first) => (Some(first), rest),
        _ => (None, path),
    };
    check_path(path)?;
    Ok(Written { host, path, tag, digest })
}

/// Docker's rule: a first segment with a dot or a port, or `localhost`, is a host.
fn is_host(segment: &str) -> bool {
    segment.contains('.') || segment.contains(':') || segment == "localhost"
}

fn check_digest(d: &str) -> Result<&str, String> {
    match d.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(d),
        _ => Err(format!("digest '{d}' is not `sha256:` followed by 64 lowercase hex digits")),
    }
}

fn check_tag(tag: &str) -> Result<&str, String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(tag)
    } else {
        Err(format!("tag '{tag}' must be 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'"))
    }
}

fn check_path(path: &str) -> Result<(), String> {
    let ok_segment = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
    };
    if path.split('/').all(ok_segment) {
        Ok(())
    } else {
        Err(format!(
            "repository '{path}': each segment must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn absolute_references() {
        let r = Reference::parse("127.0.0.1:5000/wasm/temperature:1.0.0").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str()), ("127.0.0.1:5000", "wasm/temperature"));
        assert_eq!(r.tag.as_deref(), Some("1.0.0"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/wasm/temperature:1.0.0");
        let r = Reference::parse(&format!("localhost/x@{D}")).unwrap();
        assert_eq!((r.registry.as_str(), r.digest.as_deref(), r.tag.as_deref()), ("localhost", Some(D), None));
        assert_eq!(r.name(), "x");
    }

    #[test]
    fn relative_references_need_an_endpoint() {
        let err = Reference::parse("temperature:1.0.0").unwrap_err().to_string();
        assert!(err.contains("names no registry host"), "{err}");
        let e = RegistryEndpoint::anonymous("ghcr.io/azure-samples/explore-iot-operations");
        let r = Reference::resolve("temperature:1.0.0", Some(&e)).unwrap();
        assert_eq!(r.to_string(), "ghcr.io/azure-samples/explore-iot-operations/temperature:1.0.0");
        // Already written with the prefix: not doubled.
        let r = Reference::resolve("azure-samples/explore-iot-operations/temperature:1.0.0", Some(&e)).unwrap();
        assert_eq!(r.repository, "azure-samples/explore-iot-operations/temperature");
    }

    #[test]
    fn malformed_references_say_why() {
        for (text, why) in [
            ("host.io/x", "no tag or digest"),
            ("host.io/X:1", "lowercase"),
            ("host.io/x:", "tag ''"),
            ("host.io/x@sha256:abc", "64 lowercase hex"),
            ("host.io//x:1", "repository"),
        ] {
            let err = Reference::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn references_versus_files() {
        assert!(looks_like_reference("temperature:1.0.0"));
        assert!(looks_like_reference(&format!("reg.io/a/b@{D}")));
        assert!(!looks_like_reference("graph.yaml"));
        assert!(!looks_like_reference("temperature"));
        assert!(!looks_like_reference("dir/x.wasm"));
    }
}
