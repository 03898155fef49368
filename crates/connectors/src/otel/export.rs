//! Sending OTLP export requests: over gRPC with opentelemetry-proto's tonic
//! clients, or over HTTP/protobuf with hyper's client; and what a failure
//! means.
//!
//! Failures are sorted as the OTLP specification sorts them:
//! * retryable (the collector is unreachable, overloaded or timed out: gRPC
//!   `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `ABORTED`,
//!   `OUT_OF_RANGE`, `DATA_LOSS`, `CANCELLED`, and `UNKNOWN`, which tonic
//!   also reports for broken connections; HTTP 408, 429, 502, 503, 504 and
//!   connection errors): the sink tries again later, holding the
//!   acknowledgements;
//! * a misconfiguration that no retry mends (`UNAUTHENTICATED`,
//!   `PERMISSION_DENIED`, `UNIMPLEMENTED`, `NOT_FOUND`; HTTP 401, 403, 404,
//!   405, 415): the sink fails, so nothing is acknowledged and the run stops
//!   with the reason;
//! * anything else (`INVALID_ARGUMENT`, HTTP 400, ...): the collector refuses
//!   this data for good; the specification says not to retry, so it is
//!   counted as rejected and dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use prost::Message as _;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;

use super::config::{OtelEndpoint, OtelProtocol, OtelTls};
use crate::ConnectorError;

/// Why an export did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Try again later.
    Retry(String),
    /// The collector refuses this data; drop it.
    Rejected(String),
    /// No retry can work; stop.
    Fatal(String),
}

/// What the collector said of an accepted request: items it rejected all the
/// same (OTLP's partial success), with its explanation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub rejected: u64,
    pub message: String,
}

// One per sink, made once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Transport {
    Grpc { metrics: MetricsServiceClient<Channel>, logs: LogsServiceClient<Channel>, metadata: MetadataMap },
    Http { client: HttpClient, metrics_url: hyper::Uri, logs_url: hyper::Uri, headers: hyper::HeaderMap },
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// A connection to one collector, with the runtime its I/O runs on.
pub(crate) struct Exporter {
    transport: Transport,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
}

impl Exporter {
    /// Set up the client; nothing is sent yet, so an unreachable collector
    /// shows at the first export (as a retryable failure), not here.
    pub fn connect(endpoint: &OtelEndpoint) -> Result<Exporter, ConnectorError> {
        endpoint.validate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-io")
            .enable_all()
            .build()
            .map_err(|source| ConnectorError::Io { path: "OpenTelemetry sink runtime".into(), source })?;
        let headers = endpoint.all_headers()?;
        let transport = match endpoint.protocol {
            OtelProtocol::Grpc => {
                let _inside = runtime.enter();
                grpc(endpoint, &headers)?
            }
            OtelProtocol::HttpProtobuf => http(endpoint, &headers)?,
        };
        Ok(Exporter { transport, timeout: endpoint.timeout, runtime })
    }

    /// Export metrics.
    pub fn metrics(&mut self, request: ExportMetricsServiceRequest) -> Result<Accepted, Failure> {
        let timeout = self.timeout;
        match &mut self.transport {
            Transport::Grpc { metrics, metadata, .. } => {
                let mut call = tonic::Request::new(request);
                *call.metadata_mut() = metadata.clone();
                call.set_timeout(timeout);
                let response = self.runtime.block_on(metrics.export(call)).map_err(grpc_failure)?;
                Ok(response.into_inner().partial_success.map_or_else(Accepted::default, |p| Accepted {
                    rejected: u64::try_from(p.rejected_data_points).unwrap_or(0),
                    message: p.error_message,
                }))
            }
            Transport::Http { client, metrics_url, headers, .. } => {
                let body =
                    self.runtime.block_on(post(client, metrics_url, headers, timeout, request.encode_to_vec()))?;
                let response = ExportMetricsServiceResponse::decode(body.as_slice()).unwrap_or_default();
                Ok(response.partial_success.map_or_else(Accepted::default, |p| Accepted {
                    rejected: u64::try_from(p.rejected_data_points).unwrap_or(0),
                    message: p.error_message,
                }))
            }
        }
    }

    /// Export logs.
    pub fn logs(&mut self, request: ExportLogsServiceRequest) -> Result<Accepted, Failure> {
        let timeout = self.timeout;
        match &mut self.transport {
            Transport::Grpc { logs, metadata, .. } => {
                let mut call = tonic::Request::new(request);
                *call.metadata_mut() = metadata.clone();
                call.set_timeout(timeout);
                let response = self.runtime.block_on(logs.export(call)).map_err(grpc_failure)?;
                Ok(response.into_inner().partial_success.map_or_else(Accepted::default, |p| Accepted {
                    rejected: u64::try_from(p.rejected_log_records).unwrap_or(0),
                    message: p.error_message,
                }))
            }
            Transport::Http { client, logs_url, headers, .. } => {
                let body = self.runtime.block_on(post(client, logs_url, headers, timeout, request.encode_to_vec()))?;
                let response = ExportLogsServiceResponse::decode(body.as_slice()).unwrap_or_default();
                Ok(response.partial_success.map_or_else(Accepted::default, |p| Accepted {
                    rejected: u64::try_from(p.rejected_log_records).unwrap_or(0),
                    message: p.error_message,
                }))
            }
        }
    }
}

fn config_error(endpoint: &OtelEndpoint, what: String) -> ConnectorError {
    ConnectorError::Config(format!("OpenTelemetry endpoint {}: {what}", endpoint.describe()))
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, ConnectorError> {
    std::fs::read(path).map_err(|source| ConnectorError::Io { path: path.display().to_string(), source })
}

/// The gRPC clients over one lazily connecting channel (tonic reconnects by
/// itself after the collector went away).
fn grpc(endpoint: &OtelEndpoint, headers: &BTreeMap<String, String>) -> Result<Transport, ConnectorError> {
    let url = endpoint.base_url()?;
    let text = url.as_str().trim_end_matches('/').to_string();
    let mut channel = Channel::from_shared(text.clone())
        .map_err(|e| config_error(endpoint, format!("URL {text}: {e}")))?
        .connect_timeout(endpoint.timeout)
        .timeout(endpoint.timeout);
    if url.scheme() == "https" {
        let tls = endpoint.tls.clone().unwrap_or_default();
        let mut config = ClientTlsConfig::new().domain_name(url.host_str().unwrap_or_default());
        config = match &tls.ca_file {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        channel = channel.tls_config(config).map_err(|e| config_error(endpoint, format!("TLS: {e}")))?;
    }
    let mut metadata = MetadataMap::new();
    for (name, value) in headers {
        let key = MetadataKey::from_bytes(name.as_bytes())
            .map_err(|e| config_error(endpoint, format!("header '{name}': {e}")))?;
        let value = MetadataValue::try_from(value.as_str())
            .map_err(|e| config_error(endpoint, format!("header '{name}': {e}")))?;
        metadata.insert(key, value);
    }
    let channel = channel.connect_lazy();
    Ok(Transport::Grpc {
        metrics: MetricsServiceClient::new(channel.clone()),
        logs: LogsServiceClient::new(channel),
        metadata,
    })
}

/// The HTTP client: `<url>/v1/metrics` and `<url>/v1/logs`.
fn http(endpoint: &OtelEndpoint, headers: &BTreeMap<String, String>) -> Result<Transport, ConnectorError> {
    use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
    let url = endpoint.base_url()?;
    let base = url.as_str().trim_end_matches('/').to_string();
    let mut map = hyper::HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
    for (name, value) in headers {
        let bad = |e: String| config_error(endpoint, format!("header '{name}': {e}"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(e.to_string()))?;
        map.insert(name, HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?);
    }
    let uri = |path: &str| {
        format!("{base}{path}")
            .parse::<hyper::Uri>()
            .map_err(|e| config_error(endpoint, format!("URL {base}{path}: {e}")))
    };
    let tls = match url.scheme() {
        "https" => rustls_config(endpoint, endpoint.tls.as_ref())?,
        // Plain HTTP never uses it; the connector wants one all the same.
        _ => rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(endpoint, format!("TLS: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    };
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(endpoint.timeout));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    Ok(Transport::Http { client, metrics_url: uri("/v1/metrics")?, logs_url: uri("/v1/logs")?, headers: map })
}

/// rustls settings for OTLP/HTTP: the CA file's or the system's roots, and
/// the client certificate when given.
fn rustls_config(endpoint: &OtelEndpoint, tls: Option<&OtelTls>) -> Result<rustls::ClientConfig, ConnectorError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = tls.cloned().unwrap_or_default();
    let bad = |what: String| config_error(endpoint, what);
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_slice_iter(&read(path)?) {
                let cert = cert.map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
            }
        }
        // A system certificate rustls cannot parse is skipped, as browsers do.
        None => rustls_native_certs::load_native_certs().certs.into_iter().for_each(|c| drop(roots.add(c))),
    }
    if roots.is_empty() {
        return Err(bad("TLS: no certificate authority to trust (the CA file or the system holds none)".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
                .collect::<Result<_, _>>()
                .map_err(|e| bad(format!("client certificate {}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| bad(format!("client key {}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| bad(format!("client certificate and key: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

async fn post(
    client: &HttpClient,
    url: &hyper::Uri,
    headers: &hyper::HeaderMap,
    timeout: Duration,
    body: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    use http_body_util::BodyExt as _;
    let retry = |what: String| Failure::Retry(format!("POST {url}: {what}"));
    let mut request = hyper::Request::post(url.clone())
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| Failure::Fatal(format!("POST {url}: {e}")))?;
    *request.headers_mut() = headers.clone();
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| retry(format!("no answer within {timeout:?}")))?
        .map_err(|e| retry(chain(&e)))?;
    let status = response.status();
    let body = tokio::time::timeout(timeout, response.into_body().collect())
        .await
        .map_err(|_| retry(format!("the answer did not complete within {timeout:?}")))?
        .map_err(|e| retry(chain(&e)))?
        .to_bytes()
        .to_vec();
    if status.is_success() {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    let what = format!("POST {url}: HTTP {status} {}", text.trim());
    Err(match status.as_u16() {
        408 | 429 | 502 | 503 | 504 => Failure::Retry(what),
        401 | 403 | 404 | 405 | 415 => Failure::Fatal(what),
        _ => Failure::Rejected(what),
    })
}

/// An error with its causes (hyper's own text omits them).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn grpc_failure(status: tonic::Status) -> Failure {
    let what = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss
        | Code::Cancelled
        | Code::Unknown => Failure::Retry(what),
        Code::Unauthenticated | Code::PermissionDenied | Code::Unimplemented | Code::NotFound => Failure::Fatal(what),
        _ => Failure::Rejected(what),
    }
}
