//! Where a registry is and how to reach it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::OciError;

/// A registry endpoint as written in a deployment file (`registry:`) or an
/// AIO companion file (`registryEndpoints: {name: ...}`): AIO's
/// `RegistryEndpoint` spec (`host`, `authentication.method`, ...) plus what a
/// machine outside a cluster needs (a CA file, credentials from the
/// environment or a Docker `config.json`, plain HTTP, a poll interval).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryEndpointSpec {
    /// `host[:port]`, optionally followed by a repository prefix
    /// (`ghcr.io/azure-samples/explore-iot-operations`).
    pub host: String,
    /// A repository prefix for references without a host (alternative to
    /// writing it after the host).
    pub prefix: Option<String>,
    /// How to authenticate; default anonymous.
    pub authentication: Option<AuthenticationSpec>,
    /// TLS settings.
    pub tls: Option<TlsSpec>,
    /// AIO's trust settings: `trustedCaCertificateConfigMapRef` is read here
    /// as the path of a PEM file.
    pub trust_settings: Option<TrustSettingsSpec>,
    /// Talk plain HTTP (no TLS). Only for registries on a trusted network.
    #[serde(default)]
    pub insecure_http: bool,
    /// Check tags for new digests this often while running (live updates).
    pub poll_interval_seconds: Option<u64>,
}

/// `authentication:` of a registry endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthenticationSpec {
    /// Which method.
    pub method: AuthMethod,
    /// Basic: the user name.
    pub username: Option<String>,
    /// Basic: the password as written (prefer `passwordEnv`).
    pub password: Option<String>,
    /// Basic: the environment variable holding the password.
    pub password_env: Option<String>,
    /// Bearer: the token as written (prefer `tokenEnv`).
    pub token: Option<String>,
    /// Bearer: the environment variable holding the token.
    pub token_env: Option<String>,
    /// DockerConfig: the `config.json` to read (default `$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json`).
    pub docker_config: Option<String>,
    /// ArtifactPullSecret: `secretRef` names the file holding the secret's
    /// `.dockerconfigjson` content (a Docker `config.json`).
    pub artifact_pull_secret_settings: Option<SecretSettings>,
    /// Accepted as AIO writes it (`{}`).
    pub anonymous_settings: Option<serde_json::Value>,
    /// Accepted so AIO manifests parse; the method itself is refused.
    pub system_assigned_managed_identity_settings: Option<serde_json::Value>,
    /// Accepted so AIO manifests parse; the method itself is refused.
    pub user_assigned_managed_identity_settings: Option<serde_json::Value>,
}

/// The authentication methods (AIO's names, plus wasmgraph's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AuthMethod {
    /// No credentials.
    Anonymous,
    /// Username and password.
    Basic,
    /// AIO: a pull secret (here: a Docker `config.json` file).
    ArtifactPullSecret,
    /// Credentials from a Docker `config.json`.
    DockerConfig,
    /// A bearer token.
    Bearer,
    /// AIO on Azure only; refused with an explanation.
    SystemAssignedManagedIdentity,
    /// AIO on Azure only; refused with an explanation.
    UserAssignedManagedIdentity,
}

/// `artifactPullSecretSettings:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretSettings {
    /// The file holding the secret (a Docker `config.json`), relative to the deployment file.
    pub secret_ref: String,
}

/// `tls:` of a registry endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsSpec {
    /// A PEM file of CA certificates trusted in addition to the system's.
    pub ca_file: Option<String>,
}

/// AIO's `trustSettings:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrustSettingsSpec {
    /// Here: the path of a PEM file of trusted CA certificates.
    pub trusted_ca_certificate_config_map_ref: String,
}

/// A registry endpoint, resolved: paths absolute, secrets read.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryEndpoint {
    /// `host[:port]`.
    pub host: String,
    /// Repository prefix for references without a host (no slashes at the ends).
    pub prefix: Option<String>,
    /// Credentials.
    pub auth: Auth,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS.
    pub insecure_http: bool,
    /// How often running graphs check their tags for new digests; `None`: never.
    pub poll_interval: Option<Duration>,
}

/// Credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// None.
    Anonymous,
    /// HTTP basic (the registry may exchange it for a token).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// From a Docker `config.json` (`None`: the default location).
    DockerConfig(Option<PathBuf>),
    /// A bearer token.
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::DockerConfig(p) => write!(f, "DockerConfig({p:?})"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl fmt::Debug for RegistryEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryEndpoint")
            .field("host", &self.host)
            .field("prefix", &self.prefix)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .field("insecure_http", &self.insecure_http)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl RegistryEndpoint {
    /// An anonymous HTTPS endpoint; `host` may carry a repository prefix
    /// (`ghcr.io/azure-samples/explore-iot-operations`).
    pub fn anonymous(host: &str) -> Self {
        let (host, prefix) = split_host(host);
        RegistryEndpoint {
            host,
            prefix,
            auth: Auth::Anonymous,
            ca_file: None,
            insecure_http: false,
            poll_interval: None,
        }
    }

    /// The repository of a reference written without a host: under the
    /// prefix, unless `path` already starts with it.
    pub fn repository_for(&self, path: &str) -> String {
        match &self.prefix {
            Some(p) if path != p && !path.starts_with(&format!("{p}/")) => format!("{p}/{path}"),
            _ => path.to_string(),
        }
    }

    /// The credentials for oci-client, reading a Docker config when asked.
    pub(crate) fn client_auth(&self) -> Result<RegistryAuth, OciError> {
        Ok(match &self.auth {
            Auth::Anonymous => RegistryAuth::Anonymous,
            Auth::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.clone()),
            Auth::Bearer(token) => RegistryAuth::Bearer(token.clone()),
            Auth::DockerConfig(path) => docker_config_auth(path.as_deref(), &self.host)?,
        })
    }
}

impl RegistryEndpointSpec {
    /// Resolve paths against `base` (the folder of the file it was written
    /// in) and read secrets from the environment.
    pub fn resolve(&self, base: &Path) -> Result<RegistryEndpoint, OciError> {
        let bad = |m: String| OciError::Endpoint(format!("host '{}': {m}", self.host));
        if self.host.starts_with("http://") {
            return Err(bad("write the host without `http://` and set `insecureHttp: true` for plain HTTP".into()));
        }
        let (host, mut prefix) = split_host(self.host.strip_prefix("https://").unwrap_or(&self.host));
        if host.is_empty() {
            return Err(bad("the host is empty".into()));
        }
        if let Some(p) = &self.prefix {
            if prefix.is_some() {
                return Err(bad("give the repository prefix after the host or as `prefix`, not both".into()));
            }
            prefix = Some(p.trim_matches('/').to_string()).filter(|p| !p.is_empty());
        }
        let ca = match (&self.tls, &self.trust_settings) {
            (Some(TlsSpec { ca_file: Some(_) }), Some(_)) => {
                return Err(bad("give the CA as `tls.caFile` or `trustSettings`, not both".into()))
            }
            (Some(TlsSpec { ca_file: Some(f) }), None) => Some(base.join(f)),
            (_, Some(t)) => Some(base.join(&t.trusted_ca_certificate_config_map_ref)),
            _ => None,
        };
        let auth = match &self.authentication {
            None => Auth::Anonymous,
            Some(a) => a.resolve(base).map_err(bad)?,
        };
        Ok(RegistryEndpoint {
            host,
            prefix,
            auth,
            ca_file: ca,
            insecure_http: self.insecure_http,
            poll_interval: self.poll_interval_seconds.filter(|s| *s > 0).map(Duration::from_secs),
        })
    }
}

impl AuthenticationSpec {
    fn resolve(&self, base: &Path) -> Result<Auth, String> {
        match self.method {
            AuthMethod::Anonymous => Ok(Auth::Anonymous),
            AuthMethod::Basic => {
                let username = self.username.clone().ok_or("authentication Basic needs `username`")?;
                let password = secret(&self.password, &self.password_env, "password")?;
                Ok(Auth::Basic { username, password })
            }
            AuthMethod::Bearer => Ok(Auth::Bearer(secret(&self.token, &self.token_env, "token")?)),
            AuthMethod::DockerConfig => Ok(Auth::DockerConfig(self.docker_config.as_ref().map(|p| base.join(p)))),
            AuthMethod::ArtifactPullSecret => {
                let s = self.artifact_pull_secret_settings.as_ref().ok_or(
                    "authentication ArtifactPullSecret needs `artifactPullSecretSettings.secretRef` (here: a Docker config.json file)",
                )?;
                Ok(Auth::DockerConfig(Some(base.join(&s.secret_ref))))
            }
            AuthMethod::SystemAssignedManagedIdentity | AuthMethod::UserAssignedManagedIdentity => Err(format!(
                "authentication {:?} works only inside Azure; outside it use ArtifactPullSecret, DockerConfig or Basic \
                 (for ACR: a repository-scoped token's name and password)",
                self.method
            )),
        }
    }
}

/// A secret written inline or named by an environment variable.
fn secret(inline: &Option<String>, env: &Option<String>, what: &str) -> Result<String, String> {
    match (inline, env) {
        (Some(_), Some(_)) => Err(format!("give `{what}` or `{what}Env`, not both")),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(var)) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} (the {what}) is not set"))
        }
        (None, None) => Err(format!("authentication needs `{what}` or `{what}Env`")),
    }
}

/// `host[:port][/prefix...]` into the host and the prefix.
fn split_host(text: &str) -> (String, Option<String>) {
    let text = text.trim().trim_end_matches('/');
    match text.split_once('/') {
        Some((h, p)) => (h.to_string(), Some(p.trim_matches('/').to_string()).filter(|p| !p.is_empty())),
        None => (text.to_string(), None),
    }
}

/// The credentials a Docker `config.json` holds for `host`, found as Docker
/// finds them: the credential helper `credHelpers` names for the host, else
/// the `credsStore` helper, else the `auths` entry.
fn docker_config_auth(path: Option<&Path>, host: &str) -> Result<RegistryAuth, OciError> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => match default_docker_config() {
            Some(p) if p.is_file() => p,
            _ => return Ok(RegistryAuth::Anonymous),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| OciError::io(&path, e))?;
    let bad = |m: String| OciError::Endpoint(format!("{}: {m}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let helper = match (json["credHelpers"][host].as_str(), json["credsStore"].as_str()) {
        (Some(name), _) => Some((name, "credHelpers")),
        (None, Some(name)) => Some((name, "credsStore")),
        (None, None) => None,
    };
    if let Some((name, key)) = helper.filter(|(name, _)| !name.is_empty()) {
        let program = format!("docker-credential-{name}");
        return credential_helper(Path::new(&program), host).map_err(|m| bad(format!("{key} `{name}`: {m}")));
    }
    let entry = json["auths"].as_object().and_then(|auths| {
        auths.iter().find(|(k, _)| {
            let k = k.trim_start_matches("https://").trim_start_matches("http://");
            k.split('/').next() == Some(host)
        })
    });
    let Some((_, entry)) = entry else { return Ok(RegistryAuth::Anonymous) };
    if let Some(token) = entry["registrytoken"].as_str() {
        return Ok(RegistryAuth::Bearer(token.to_string()));
    }
    if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
    }
    let encoded = entry["auth"].as_str().ok_or_else(|| bad(format!("auths.{host} has no `auth`")))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad(format!("auths.{host}.auth is not base64 of `user:password`")))?;
    let (u, p) = decoded.split_once(':').ok_or_else(|| bad(format!("auths.{host}.auth is not `user:password`")))?;
    Ok(RegistryAuth::Basic(u.to_string(), p.to_string()))
}

/// Ask a Docker credential helper for `host`'s credentials, as Docker does:
/// `<program> get` with the server address on stdin, answering
/// `{"ServerURL", "Username", "Secret"}` on stdout. A helper that has none
/// for the host ("credentials not found") means anonymous access.
fn credential_helper(program: &Path, host: &str) -> Result<RegistryAuth, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let shown = program.display();
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("the credential helper {shown} is not installed (not on PATH)"),
            _ => format!("running {shown}: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input fails below with its own message.
        let _ = stdin.write_all(host.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("running {shown}: {e}"))?;
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    if !out.status.success() {
        let message = [said(&out.stdout), said(&out.stderr)].join(" ");
        if message.contains("credentials not found") {
            return Ok(RegistryAuth::Anonymous);
        }
        return Err(format!("{shown} get {host} failed ({}): {}", out.status, message.trim()));
    }
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{shown} get {host} did not answer JSON ({e}): {}", said(&out.stdout)))?;
    match (reply["Username"].as_str(), reply["Secret"].as_str()) {
        (Some("<token>"), Some(_)) => Err(format!(
            "{shown} holds an identity token for {host} (an OAuth refresh token), which wasmgraph cannot exchange; \
             give Basic credentials or a bearer token instead"
        )),
        (Some(user), Some(secret)) if !user.is_empty() => Ok(RegistryAuth::Basic(user.into(), secret.into())),
        (_, Some(secret)) if !secret.is_empty() => Ok(RegistryAuth::Bearer(secret.into())),
        _ => Err(format!("{shown} get {host} answered without `Username` and `Secret`")),
    }
}

fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> RegistryEndpointSpec {
        serde_json::from_str(yaml).unwrap()
    }

    #[test]
    fn host_with_prefix_and_basic_auth() {
        let s = spec(
            r#"{"host":"reg.example:5000/team/wasm","authentication":{"method":"Basic","username":"u","password":"p"},
                "tls":{"caFile":"ca.pem"},"pollIntervalSeconds":5}"#,
        );
        let e = s.resolve(Path::new("/d")).unwrap();
        assert_eq!((e.host.as_str(), e.prefix.as_deref()), ("reg.example:5000", Some("team/wasm")));
        assert_eq!(e.auth, Auth::Basic { username: "u".into(), password: "p".into() });
        assert_eq!(e.ca_file.as_deref(), Some(Path::new("/d/ca.pem")));
        assert_eq!(e.poll_interval, Some(Duration::from_secs(5)));
        assert!(!format!("{e:?}").contains("\"p\""), "password must not be printed");
    }

    #[test]
    fn refusals_explain() {
        let err = spec(r#"{"host":"http://x:5000"}"#).resolve(Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("insecureHttp"), "{err}");
        let err = spec(r#"{"host":"x.azurecr.io","authentication":{"method":"SystemAssignedManagedIdentity"}}"#)
            .resolve(Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only inside Azure"), "{err}");
        let err = spec(r#"{"host":"x.io","authentication":{"method":"Basic","username":"u","passwordEnv":"WASMGRAPH_NO_SUCH_VAR_1"}}"#)
            .resolve(Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WASMGRAPH_NO_SUCH_VAR_1"), "{err}");
    }

    #[test]
    fn docker_config_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:secret");
        std::fs::write(&file, format!(r#"{{"auths":{{"https://127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#)).unwrap();
        match docker_config_auth(Some(&file), "127.0.0.1:5000").unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("alice", "secret")),
            other => panic!("expected basic, got {other:?}"),
        }
        assert!(matches!(docker_config_auth(Some(&file), "other.io").unwrap(), RegistryAuth::Anonymous));
    }

    /// A credential helper as Docker runs one: a script answering `get` with
    /// the host it read on stdin, and "credentials not found" for others.
    fn helper(dir: &Path) -> PathBuf {
        let script = dir.join("docker-credential-wgtest");
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread host\n\
             case \"$host\" in\n  reg.example:5000) echo '{\"ServerURL\":\"reg.example:5000\",\"Username\":\"bob\",\"Secret\":\"s3\"}' ;;\n\
             \x20 *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    #[test]
    fn credential_helpers_are_run_as_docker_runs_them() {
        let dir = tempfile::tempdir().unwrap();
        let script = helper(dir.path());
        match credential_helper(&script, "reg.example:5000").unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("bob", "s3")),
            other => panic!("expected basic, got {other:?}"),
        }
        assert!(matches!(credential_helper(&script, "other.io").unwrap(), RegistryAuth::Anonymous));
    }

    #[test]
    fn a_missing_credential_helper_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        for config in [
            r#"{"credsStore":"wgmissing-1","auths":{"reg.example:5000":{}}}"#,
            r#"{"credHelpers":{"reg.example:5000":"wgmissing-1"}}"#,
        ] {
            std::fs::write(&file, config).unwrap();
            let err = docker_config_auth(Some(&file), "reg.example:5000").unwrap_err().to_string();
            assert!(err.contains("docker-credential-wgmissing-1 is not installed"), "{err}");
            assert!(err.contains("config.json"), "names the file: {err}");
        }
        std::fs::write(&file, r#"{"credHelpers":{"other.io":"wgmissing-1"}}"#).unwrap();
        assert!(matches!(docker_config_auth(Some(&file), "reg.example:5000").unwrap(), RegistryAuth::Anonymous));
    }
}
