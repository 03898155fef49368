//! OTLP receivers of the test's own, for the tests that need a real
//! OpenTelemetry collector endpoint: a gRPC server implementing
//! opentelemetry-proto's generated `MetricsService` and `LogsService`
//! (tonic), and an HTTP/1 server (hyper) decoding `ExportMetricsServiceRequest`
//! / `ExportLogsServiceRequest` protobuf bodies posted to `/v1/metrics` and
//! `/v1/logs`, as a collector's OTLP receiver does; both also over TLS with
//! client certificates. Each runs on a tokio runtime of its own on
//! 127.0.0.1 and stops when dropped.
//!
//! Used by the OTel sink's integration tests (wasmgraph-connectors) and the
//! CLI's end-to-end OpenTelemetry tests (`wasmgraph run` with an OTel
//! destination, and the runtime's OTLP metrics push).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
pub use opentelemetry_proto;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use prost::Message as _;
pub use tonic::Code;

/// What a receiver got: every request, and the `authorization` each carried.
#[derive(Clone, Default)]
pub struct Collector {
    /// Every metrics export request accepted, in arrival order.
    pub metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// Every logs export request accepted, in arrival order.
    pub logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    /// The `authorization` header (gRPC metadata) of every request, `""` when absent.
    pub authorization: Arc<Mutex<Vec<String>>>,
    /// Answer every gRPC export with this status instead of accepting it.
    pub refuse: Option<Code>,
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.admit(request.metadata())?;
        lock(&self.metrics).push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.admit(request.metadata())?;
        lock(&self.logs).push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Collector {
    fn note_auth(&self, value: Option<&str>) {
        lock(&self.authorization).push(value.unwrap_or("").to_string());
    }

    /// A gRPC export's common part: note its authorization, then refuse it
    /// if the test asked for that.
    fn admit(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), tonic::Status> {
        self.note_auth(metadata.get("authorization").and_then(|v| v.to_str().ok()));
        match self.refuse {
            Some(code) => Err(tonic::Status::new(code, "refused by the test")),
            None => Ok(()),
        }
    }

    /// Every metric of every request received so far, in arrival order.
    pub fn all_metrics(&self) -> Vec<Metric> {
        let requests = lock(&self.metrics);
        let scopes = requests.iter().flat_map(|r| &r.resource_metrics).flat_map(|r| &r.scope_metrics);
        scopes.flat_map(|s| s.metrics.iter().cloned()).collect()
    }

    /// Every log record of every request received so far, in arrival order.
    pub fn all_logs(&self) -> Vec<LogRecord> {
        let requests = lock(&self.logs);
        let scopes = requests.iter().flat_map(|r| &r.resource_logs).flat_map(|r| &r.scope_logs);
        scopes.flat_map(|s| s.log_records.iter().cloned()).collect()
    }

    /// One HTTP request: decode the body as the path's OTLP request.
    async fn http(self, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, String> {
        let path = request.uri().path().to_string();
        self.note_auth(request.headers().get("authorization").and_then(|v| v.to_str().ok()));
        let content_type = request.headers().get("content-type").cloned();
        let body = request.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let reply = |status: u16, body: Vec<u8>| {
            let response = hyper::Response::builder().status(status).header("content-type", "application/x-protobuf");
            response.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())
        };
        if content_type.as_ref().and_then(|v| v.to_str().ok()) != Some("application/x-protobuf") {
            return reply(415, Vec::new());
        }
        match path.as_str() {
            "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
                Ok(r) => lock(&self.metrics).push(r),
                Err(_) => return reply(400, Vec::new()),
            },
            "/v1/logs" => match ExportLogsServiceRequest::decode(body) {
                Ok(r) => lock(&self.logs).push(r),
                Err(_) => return reply(400, Vec::new()),
            },
            _ => return reply(404, Vec::new()),
        }
        reply(200, ExportMetricsServiceResponse::default().encode_to_vec())
    }
}

/// The attributes as `(key, value)` text pairs (string values as they are,
/// others in their debug form).
pub fn attributes(list: &[KeyValue]) -> Vec<(String, String)> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let text = |kv: &KeyValue| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    };
    list.iter().map(|kv| (kv.key.clone(), text(kv))).collect()
}

/// A receiver running on its own runtime; dropping it stops it.
pub struct Receiver {
    /// What it received.
    pub collector: Collector,
    /// Where it listens.
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime")
}

/// An address on 127.0.0.1 nobody listens on (yet).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("a local address")
}

impl Receiver {
    /// OTLP/gRPC at `addr`, listening when this returns.
    pub fn grpc(addr: SocketAddr, collector: Collector) -> Receiver {
        Self::grpc_with(addr, collector, None)
    }

    /// OTLP/gRPC over TLS at `addr`, requiring a client certificate signed
    /// by `certs/ca.pem`; the server's are `certs/server.{pem,key}`.
    pub fn grpc_tls(addr: SocketAddr, collector: Collector, certs: &Path) -> Receiver {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let read = |name: &str| std::fs::read(certs.join(name)).expect("the test's certificates");
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(read("server.pem"), read("server.key")))
            .client_ca_root(Certificate::from_pem(read("ca.pem")));
        Self::grpc_with(addr, collector, Some(tls))
    }

    fn grpc_with(addr: SocketAddr, collector: Collector, tls: Option<tonic::transport::ServerTlsConfig>) -> Receiver {
        let runtime = runtime();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).expect("binding the receiver");
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).expect("the receiver's TLS settings");
        }
        let server = builder
            .add_service(MetricsServiceServer::new(collector.clone()))
            .add_service(LogsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        runtime.spawn(server);
        Receiver { collector, addr, runtime: Some(runtime) }
    }

    /// OTLP/HTTP (protobuf bodies) at `addr`, listening when this returns.
    pub fn http(addr: SocketAddr, collector: Collector) -> Receiver {
        Self::http_with(addr, collector, None)
    }

    /// OTLP/HTTP over TLS at `addr` (rustls), requiring a client certificate
    /// signed by `certs/ca.pem`; the server's are `certs/server.{pem,key}`.
    pub fn http_tls(addr: SocketAddr, collector: Collector, certs: &Path) -> Receiver {
        Self::http_with(addr, collector, Some(tls_acceptor(certs)))
    }

    fn http_with(addr: SocketAddr, collector: Collector, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let runtime = runtime();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).expect("binding the receiver");
        let shared = collector.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (collector, tls) = (shared.clone(), tls.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |r| collector.clone().http(r));
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                        }
                        None => {
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        Receiver { collector, addr, runtime: Some(runtime) }
    }
}

/// A rustls acceptor with `certs/server.{pem,key}` that requires a client
/// certificate signed by `certs/ca.pem`.
fn tls_acceptor(certs: &Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(certs.join("ca.pem")).expect("ca.pem")).expect("a CA certificate");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("a client verifier");
    let chain = vec![CertificateDer::from_pem_file(certs.join("server.pem")).expect("server.pem")];
    let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("the server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
