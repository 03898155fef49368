//! wasmgraph's own deployment shape.

use std::collections::BTreeMap;
use std::path::Path;

use crate::raw::{self, PolicyKind};
use crate::{
    check, invalid, looks_like_oci, parse, relative, Configuration, Deployment, DeploymentError, ErrorPolicy, SinkSpec,
};

pub(crate) fn load(file: &Path, text: &str, cache_dir: Option<&Path>) -> Result<Deployment, DeploymentError> {
    let d: raw::Native = parse(file, text)?;
    if d.kind != "Deployment" {
        return Err(invalid(file, format!("kind '{}': expected 'Deployment'", d.kind)));
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let name = d.name.clone().unwrap_or_else(|| default_name(file));
    let registry = crate::oci::endpoint(file, d.registry.as_ref())?;
    let missing = "no `registry:` says where it resolves (host, authentication, tls)";
    let graph = crate::oci::graph_file(file, &d.graph, registry.as_ref(), cache_dir, missing)?;
    let mut endpoints = d.endpoints;
    endpoints.values_mut().for_each(|e| e.resolve_paths(base));
    let (mut source, mut sink) = (d.source, d.sink);
    source.resolve_paths(base);
    sink.resolve_paths(base);
    let mut errors = error_policy(file, d.errors, &sink)?;
    if let ErrorPolicy::DeadLetter(dl) = &mut errors {
        dl.resolve_paths(base);
    }
    check(file, &source, &sink, &errors, &endpoints)?;
    let configuration = Configuration::PerOperation(
        d.configuration
            .iter()
            .map(|(op, values)| (op.clone(), values.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()))
            .collect(),
    );
    Ok(Deployment {
        file: file.to_path_buf(),
        name,
        graph,
        registry,
        modules: d.modules.as_deref().map(|m| relative(file, m)),
        configuration,
        source,
        sink,
        errors,
        endpoints,
        state_store: crate::state_store(file, d.state_store),
        cluster: cluster(file, d.cluster)?,
        limits: checked_limits(file, d.limits)?,
    })
}

/// The `limits:` section, checked (none: every default).
pub(crate) fn checked_limits(
    file: &Path,
    spec: Option<crate::LimitsSpec>,
) -> Result<crate::LimitsSpec, DeploymentError> {
    let spec = spec.unwrap_or_default();
    spec.check(file)?;
    Ok(spec)
}

/// The `cluster:` section, checked, its `hostsFile` resolved.
fn cluster(file: &Path, spec: Option<crate::ClusterSpec>) -> Result<Option<crate::ClusterSpec>, DeploymentError> {
    let Some(mut spec) = spec else { return Ok(None) };
    if let Some(problem) = spec.check().into_iter().next() {
        return Err(invalid(file, problem));
    }
    spec.resolve_paths(file.parent().unwrap_or(Path::new(".")));
    Ok(Some(spec))
}

pub(crate) fn default_name(file: &Path) -> String {
    file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "wasmgraph".into())
}

pub(crate) fn graph_path(file: &Path, graph: &str) -> Result<std::path::PathBuf, DeploymentError> {
    let path = relative(file, graph);
    if !path.exists() && looks_like_oci(graph) {
        return Err(invalid(
            file,
            format!(
                "graph '{graph}' looks like an OCI reference but is not a valid one (`[host/]repository:tag` in \
                 lowercase, or `...@sha256:<digest>`), nor a file"
            ),
        ));
    }
    if !path.is_file() {
        return Err(invalid(file, format!("graph '{graph}': no such file ({})", path.display())));
    }
    Ok(path)
}

/// The error policy; a dead-letter `topic` goes through the main sink's
/// connector and endpoint, a dead-letter `sink` is a sink of its own.
pub(crate) fn error_policy(
    file: &Path,
    p: Option<raw::ErrorPolicy>,
    main_sink: &SinkSpec,
) -> Result<ErrorPolicy, DeploymentError> {
    let Some(p) = p else { return Ok(ErrorPolicy::Drop) };
    match (p.policy, p.topic, p.sink) {
        (PolicyKind::Drop, None, None) => Ok(ErrorPolicy::Drop),
        (PolicyKind::Drop, _, _) => {
            Err(invalid(file, "errors.topic and errors.sink apply to `policy: deadLetter` only".into()))
        }
        (PolicyKind::DeadLetter, Some(_), Some(_)) => {
            Err(invalid(file, "errors: give `topic` (on the sink's endpoint) or `sink`, not both".into()))
        }
        (PolicyKind::DeadLetter, None, Some(sink)) => Ok(ErrorPolicy::DeadLetter(sink)),
        (PolicyKind::DeadLetter, Some(t), None) if !t.is_empty() => match main_sink.with_topic(&t) {
            Some(sink) => Ok(ErrorPolicy::DeadLetter(sink)),
            None => Err(invalid(
                file,
                format!(
                    "errors.topic: a {} sink has no topics; give the dead letters a `sink` of their own",
                    main_sink.type_name()
                ),
            )),
        },
        (PolicyKind::DeadLetter, _, None) => {
            Err(invalid(file, "errors: `policy: deadLetter` needs a `topic` or a `sink`".into()))
        }
    }
}

pub(crate) fn names<V>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        "none".into()
    } else {
        map.keys().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
    }
}
