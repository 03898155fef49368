//! Settings of the OpenTelemetry sink, as a deployment file spells them.
//!
//! An endpoint is written either in wasmgraph's flat form (`type: otel`,
//! `host`, `protocol`, `headers`, `tls`, `batching`, ...) or as AIO writes
//! the `spec` of an OpenTelemetry `DataflowEndpoint` (`endpointType:
//! OpenTelemetry` with everything under `openTelemetrySettings`, and AIO's
//! `authentication` and `tls.mode` keys). Both read into one
//! [`OtelEndpoint`]; what AIO names by Kubernetes object (a ConfigMap of CA
//! certificates, a TLS secret) is read from files instead, since there is no
//! cluster to ask: `docs/otel-endpoint.md` says how each maps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use url::Url;

use crate::ConnectorError;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtelProtocol {
    /// OTLP/gRPC (port 4317 by default), AIO's only transport.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318 by default), posted to
    /// `<host>/v1/metrics` and `<host>/v1/logs`.
    HttpProtobuf,
}

impl OtelProtocol {
    /// The port a host without one gets (the OTLP defaults).
    pub fn default_port(self) -> u16 {
        match self {
            OtelProtocol::Grpc => 4317,
            OtelProtocol::HttpProtobuf => 4318,
        }
    }

    /// The name OpenTelemetry's exporters use (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub fn name(self) -> &'static str {
        match self {
            OtelProtocol::Grpc => "grpc",
            OtelProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

impl<'de> Deserialize<'de> for OtelProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.to_ascii_lowercase().as_str() {
            "grpc" => Ok(OtelProtocol::Grpc),
            "http/protobuf" | "httpprotobuf" | "http" => Ok(OtelProtocol::HttpProtobuf),
            _ => Err(serde::de::Error::custom(format!(
                "protocol '{text}': expected `grpc` or `http/protobuf` (OTLP/HTTP with JSON bodies is not offered)"
            ))),
        }
    }
}

/// TLS to the collector (rustls with the *ring* provider).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtelTls {
    /// PEM file of the certificate authorities to trust; the system's roots
    /// when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain), for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// When the sink sends what it holds (AIO's `batching`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtelBatching {
    /// The longest a message waits in the sink before it is sent. The engine
    /// also asks the sink to make its records durable after every batch it
    /// hands over, and acknowledgements wait for that, so messages are in
    /// practice sent at each such flush, sooner than this.
    pub latency: Duration,
    /// The most messages one export request carries.
    pub max_messages: usize,
}

impl Default for OtelBatching {
    /// 5 seconds (the default AIO's operations experience states; its
    /// reference table says 60) and 100,000 messages.
    fn default() -> Self {
        OtelBatching { latency: Duration::from_secs(5), max_messages: 100_000 }
    }
}

/// How long the sink waits between tries while the collector is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtelRetry {
    /// The first wait; it doubles after each failed try.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for OtelRetry {
    /// 100 ms doubling up to 5 s.
    fn default() -> Self {
        OtelRetry { initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5) }
    }
}

/// Where an OpenTelemetry collector is and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelEndpoint {
    /// The collector: a URL (`http://collector:4317`, `https://...`) or
    /// `host:port` as AIO writes it (then `https` when TLS is set, else
    /// `http`; the protocol's default port when none is given).
    pub host: String,
    /// `grpc` (default) or `http/protobuf`.
    pub protocol: OtelProtocol,
    /// Sent with every export: gRPC metadata or HTTP headers (an
    /// `authorization` bearer token, an API key).
    pub headers: BTreeMap<String, String>,
    /// A file whose content is sent as `authorization: Bearer <content>`
    /// (AIO's `ServiceAccountToken` authentication, read from a file).
    pub token_file: Option<PathBuf>,
    /// TLS; `None` for plain connections unless the host says `https://`.
    pub tls: Option<OtelTls>,
    /// When to send.
    pub batching: OtelBatching,
    /// The longest one export request may take before it is retried.
    pub timeout: Duration,
    /// Waits between tries while the collector is unreachable.
    pub retry: OtelRetry,
    /// Resource attributes of everything exported (`service.name` defaults
    /// to the deployment's name).
    pub resource: BTreeMap<String, String>,
}

impl OtelEndpoint {
    /// A plain endpoint at `host` speaking `protocol`, every other setting
    /// at its default.
    pub fn new(host: impl Into<String>, protocol: OtelProtocol) -> Self {
        OtelEndpoint {
            host: host.into(),
            protocol,
            headers: BTreeMap::new(),
            token_file: None,
            tls: None,
            batching: OtelBatching::default(),
            timeout: Duration::from_secs(10),
            retry: OtelRetry::default(),
            resource: BTreeMap::new(),
        }
    }

    /// The collector's URL: scheme, host and port, plus the path prefix for
    /// OTLP/HTTP. TLS settings make a schemeless or `http://` host `https`.
    pub fn base_url(&self) -> Result<Url, ConnectorError> {
        let bad = |what: String| ConnectorError::Config(format!("OpenTelemetry endpoint '{}': {what}", self.host));
        let host = self.host.trim();
        let has_scheme = host.contains("://");
        let text = if has_scheme { host.to_string() } else { format!("http://{host}") };
        let mut url = Url::parse(&text).map_err(|e| bad(format!("not a host:port or URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!("scheme '{}': use http:// or https://", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host name".into()));
        }
        if self.tls.is_some() && url.scheme() == "http" {
            url.set_scheme("https").map_err(|()| bad("cannot switch to https".into()))?;
        }
        if !has_scheme && url.port().is_none() {
            url.set_port(Some(self.protocol.default_port())).map_err(|()| bad("cannot set the port".into()))?;
        }
        if self.protocol == OtelProtocol::Grpc && url.path() != "/" {
            return Err(bad(format!("a gRPC endpoint has no path ('{}'); give host:port", url.path())));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a query or fragment has no meaning here".into()));
        }
        Ok(url)
    }

    /// True when the connection is TLS.
    pub fn uses_tls(&self) -> bool {
        self.base_url().is_ok_and(|u| u.scheme() == "https")
    }

    /// For logs: the URL, or the host as written when it does not parse.
    pub fn describe(&self) -> String {
        match self.base_url() {
            Ok(url) => format!("{} {}", self.protocol.name(), url.as_str().trim_end_matches('/')),
            Err(_) => self.host.clone(),
        }
    }

    /// Check what serde cannot: the host, headers, batching and timeouts,
    /// that client certificate and key come together.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let bad = |what: String| Err(ConnectorError::Config(format!("OpenTelemetry endpoint {}: {what}", self.host)));
        self.base_url()?;
        for (name, value) in &self.headers {
            let name_ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !name.starts_with("grpc-");
            if !name_ok {
                return bad(format!("header '{name}': names are letters, digits, '-', '_' and '.' (and not grpc-*)"));
            }
            if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
                return bad(format!("header '{name}': the value has control characters"));
            }
        }
        if self.batching.max_messages == 0 {
            return bad("batching.maxMessages must be at least 1".into());
        }
        if self.batching.latency.is_zero() {
            return bad("batching.latencySeconds must be above 0".into());
        }
        if self.timeout.is_zero() {
            return bad("timeoutSeconds must be above 0".into());
        }
        if self.retry.initial_backoff.is_zero() || self.retry.max_backoff < self.retry.initial_backoff {
            return bad("retry: initialBackoffMs must be above 0 and at most maxBackoffSeconds".into());
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return bad("tls: a client certificate needs both certFile and keyFile".into());
            }
        }
        Ok(())
    }

    /// Make relative file paths relative to `base`, the folder of the file
    /// the settings came from.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |path: &mut PathBuf| *path = crate::relative_to(base, path);
        self.token_file.iter_mut().for_each(fix);
        if let Some(tls) = &mut self.tls {
            tls.ca_file.iter_mut().chain(tls.cert_file.iter_mut()).chain(tls.key_file.iter_mut()).for_each(fix);
        }
    }

    /// The headers to send, the bearer token file read in.
    pub(crate) fn all_headers(&self) -> Result<BTreeMap<String, String>, ConnectorError> {
        let mut headers: BTreeMap<String, String> =
            self.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConnectorError::Io { path: path.display().to_string(), source })?;
            headers.insert("authorization".into(), format!("Bearer {}", text.trim()));
        }
        Ok(headers)
    }
}

impl<'de> Deserialize<'de> for OtelEndpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawEndpoint::deserialize(d)?;
        raw.into_endpoint().map_err(serde::de::Error::custom)
    }
}

/// Settings of [`super::OtelSink`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OtelSinkConfig {
    /// The endpoint (a name under `endpoints:` in a deployment file).
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// An endpoint as written: wasmgraph's keys and AIO's, all optional, checked
/// and merged by [`RawEndpoint::into_endpoint`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEndpoint {
    host: Option<String>,
    protocol: Option<OtelProtocol>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    tls: Option<RawTls>,
    batching: Option<RawBatching>,
    timeout_seconds: Option<f64>,
    retry: Option<RawRetry>,
    #[serde(default)]
    resource: BTreeMap<String, String>,
    /// AIO's authentication block.
    authentication: Option<Authentication>,
    /// AIO's nesting: the settings one level down.
    open_telemetry_settings: Option<Box<RawEndpoint>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTls {
    /// AIO: `Enabled` or `Disabled`.
    mode: Option<TlsMode>,
    /// AIO names a ConfigMap of CA certificates; here, a PEM file.
    trusted_ca_certificate_config_map_ref: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum TlsMode {
    #[serde(alias = "enabled")]
    Enabled,
    #[serde(alias = "disabled")]
    Disabled,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBatching {
    latency_seconds: Option<f64>,
    /// AIO's MQTT and Kafka endpoints spell latency in milliseconds.
    latency_ms: Option<u64>,
    max_messages: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRetry {
    initial_backoff_ms: Option<u64>,
    max_backoff_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Authentication {
    method: AuthMethod,
    /// AIO writes `anonymousSettings: {}`; it holds nothing.
    #[serde(default)]
    #[allow(dead_code)]
    anonymous_settings: Option<serde::de::IgnoredAny>,
    service_account_token_settings: Option<TokenSettings>,
    x509_certificate_settings: Option<X509Settings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum AuthMethod {
    Anonymous,
    ServiceAccountToken,
    X509Certificate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenSettings {
    /// Kept for AIO compatibility; a token file needs no audience.
    #[allow(dead_code)]
    audience: Option<String>,
    /// wasmgraph: the file holding the token (in a pod, the projected
    /// service account token's path).
    token_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct X509Settings {
    /// AIO names a Kubernetes TLS secret; here, a folder holding what such a
    /// secret holds: `tls.crt` and `tls.key`.
    secret_ref: PathBuf,
}

fn seconds(what: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("{what}: {value} is not a duration in seconds"))
}

impl RawEndpoint {
    fn into_endpoint(self) -> Result<OtelEndpoint, String> {
        let raw = match self.open_telemetry_settings {
            Some(inner) => {
                let flat = self.host.is_some() || self.protocol.is_some() || self.tls.is_some();
                if flat || self.batching.is_some() || self.authentication.is_some() {
                    return Err("give the settings either under openTelemetrySettings (AIO) or beside `type`, \
                                not both"
                        .into());
                }
                let mut inner = *inner;
                inner.headers.extend(self.headers);
                inner.resource.extend(self.resource);
                inner.timeout_seconds = inner.timeout_seconds.or(self.timeout_seconds);
                inner.retry = inner.retry.or(self.retry);
                inner
            }
            None => self,
        };
        raw.flat()
    }

    fn flat(self) -> Result<OtelEndpoint, String> {
        let host = self.host.ok_or("`host` is missing (the collector, host:port or a URL)")?;
        let mut endpoint = OtelEndpoint::new(host, self.protocol.unwrap_or_default());
        endpoint.headers = self.headers;
        endpoint.resource = self.resource;
        endpoint.tls = tls(self.tls)?;
        if let Some(b) = self.batching {
            if b.latency_seconds.is_some() && b.latency_ms.is_some() {
                return Err("batching: give latencySeconds or latencyMs, not both".into());
            }
            if let Some(s) = b.latency_seconds {
                endpoint.batching.latency = seconds("batching.latencySeconds", s)?;
            }
            if let Some(ms) = b.latency_ms {
                endpoint.batching.latency = Duration::from_millis(ms);
            }
            if let Some(n) = b.max_messages {
                endpoint.batching.max_messages = usize::try_from(n).map_err(|_| "batching.maxMessages is too large")?;
            }
        }
        if let Some(s) = self.timeout_seconds {
            endpoint.timeout = seconds("timeoutSeconds", s)?;
        }
        if let Some(r) = self.retry {
            if let Some(ms) = r.initial_backoff_ms {
                endpoint.retry.initial_backoff = Duration::from_millis(ms);
            }
            if let Some(s) = r.max_backoff_seconds {
                endpoint.retry.max_backoff = seconds("retry.maxBackoffSeconds", s)?;
            }
        }
        if let Some(auth) = self.authentication {
            authenticate(&mut endpoint, auth)?;
        }
        Ok(endpoint)
    }
}

/// The TLS block: wasmgraph's files or AIO's mode and CA reference.
fn tls(raw: Option<RawTls>) -> Result<Option<OtelTls>, String> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.ca_file.is_some() && raw.trusted_ca_certificate_config_map_ref.is_some() {
        return Err("tls: give caFile or trustedCaCertificateConfigMapRef, not both".into());
    }
    let settings = OtelTls {
        ca_file: raw.ca_file.or(raw.trusted_ca_certificate_config_map_ref),
        cert_file: raw.cert_file,
        key_file: raw.key_file,
    };
    match raw.mode {
        Some(TlsMode::Disabled) if settings != OtelTls::default() => {
            Err("tls: `mode: Disabled` with certificate files; remove one or the other".into())
        }
        Some(TlsMode::Disabled) => Ok(None),
        Some(TlsMode::Enabled) | None => Ok(Some(settings)),
    }
}

/// AIO's authentication methods, mapped onto headers and TLS files.
fn authenticate(endpoint: &mut OtelEndpoint, auth: Authentication) -> Result<(), String> {
    match auth.method {
        AuthMethod::Anonymous => Ok(()),
        AuthMethod::ServiceAccountToken => {
            let file = auth.service_account_token_settings.and_then(|s| s.token_file).ok_or(
                "authentication ServiceAccountToken: outside a Kubernetes cluster there is no service account; \
                 give serviceAccountTokenSettings.tokenFile (a file holding the token, sent as a bearer token) \
                 or an `authorization` header",
            )?;
            endpoint.token_file = Some(file);
            Ok(())
        }
        AuthMethod::X509Certificate => {
            let dir = auth
                .x509_certificate_settings
                .ok_or("authentication X509Certificate needs x509CertificateSettings.secretRef")?
                .secret_ref;
            let tls = endpoint.tls.get_or_insert_with(OtelTls::default);
            if tls.cert_file.is_some() || tls.key_file.is_some() {
                return Err("authentication X509Certificate and tls.certFile/keyFile: give one of them".into());
            }
            tls.cert_file = Some(dir.join("tls.crt"));
            tls.key_file = Some(dir.join("tls.key"));
            Ok(())
        }
    }
}
