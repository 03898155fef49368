//! A live run's supervisor: it forwards Ctrl-C / SIGTERM to the running
//! pipeline's source, and, when the deployment's registry has a poll
//! interval, reloads the deployment that often. When its graph definition
//! changed (a `graph:` pulled by tag whose tag moved: the pulled content,
//! kept by its digest, is another file), it asks the source to stop like a
//! Ctrl-C does: the engine finishes the records in flight and acknowledges
//! them, and `wasmgraph run` starts again with the new graph, reading on from
//! where the acknowledgements left the source (unacknowledged messages come
//! again). A new graph that does not load is refused, once, and the running
//! one goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmgraph_connectors::StopHandle;
use wasmgraph_deployment::Deployment;

/// Reloads the deployment (pulling its graph again by tag).
pub type Loader = Box<dyn Fn() -> anyhow::Result<Deployment> + Send>;

/// How often the supervisor looks at the stop requests.
const TICK: Duration = Duration::from_millis(50);

/// The supervisor of one run; [`Supervisor::finish`] ends it.
pub struct Supervisor {
    done: Arc<AtomicBool>,
    changed: Arc<Mutex<Option<Deployment>>>,
    thread: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Forward `user` (the signal handler's stop) to `run` (the pipeline's
    /// source), and with `watch` (the running deployment, how to reload it,
    /// how often) restart on a new graph definition.
    pub fn start(user: StopHandle, run: Option<StopHandle>, watch: Option<(Deployment, Loader, Duration)>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let changed = Arc::new(Mutex::new(None));
        let (d, c) = (done.clone(), changed.clone());
        let thread = std::thread::Builder::new()
            .name("wasmgraph-supervisor".into())
            .spawn(move || supervise(&user, run.as_ref(), watch, &d, &c))
            .map_err(|e| tracing::warn!("cannot start the run's supervisor: {e}; signals stop the run only once"))
            .ok();
        Supervisor { done, changed, thread }
    }

    /// Stop supervising; the deployment to run next, when the graph changed.
    pub fn finish(mut self) -> Option<Deployment> {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.changed.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

fn supervise(
    user: &StopHandle,
    run: Option<&StopHandle>,
    watch: Option<(Deployment, Loader, Duration)>,
    done: &AtomicBool,
    changed: &Mutex<Option<Deployment>>,
) {
    let mut next_check = watch.as_ref().map(|(_, _, every)| Instant::now() + *every);
    let mut refused: Option<PathBuf> = None;
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(TICK);
        if user.is_stopped() {
            run.inspect(|r| r.stop());
            continue;
        }
        let (Some((current, load, every)), Some(at)) = (&watch, next_check) else { continue };
        if Instant::now() < at || run.is_some_and(StopHandle::is_stopped) {
            continue;
        }
        next_check = Some(Instant::now() + *every);
        if let Some(new) = graph_change(current, load, &mut refused) {
            *changed.lock().unwrap_or_else(|e| e.into_inner()) = Some(new);
            run.inspect(|r| r.stop());
        }
    }
}

/// The reloaded deployment when its graph is another, loadable one.
fn graph_change(current: &Deployment, load: &Loader, refused: &mut Option<PathBuf>) -> Option<Deployment> {
    let new = match load() {
        Ok(new) => new,
        Err(e) => {
            tracing::debug!("checking the deployment's graph: {e:#}");
            return None;
        }
    };
    if new.graph == current.graph || refused.as_ref() == Some(&new.graph) {
        return None;
    }
    let (old, next) = (digest_of(&current.graph), digest_of(&new.graph));
    if let Err(why) = loads(&new) {
        eprintln!("wasmgraph: graph definition {next} does not load ({why}); {old} keeps running");
        *refused = Some(new.graph);
        return None;
    }
    eprintln!(
        "wasmgraph: graph definition changed from {old} to {next}: finishing the records in flight, then restarting"
    );
    tracing::info!(from = %old, to = %next, "graph definition changed");
    Some(new)
}

/// Whether `d`'s graph loads with `d`'s parameter values (modules are
/// checked when the restarted run loads them).
fn loads(d: &Deployment) -> Result<(), String> {
    let values = wasmgraph_runtime::Pipeline::from_deployment(d).map_err(|e| e.to_string())?.parameters;
    wasmgraph_config::load_graph(&d.graph, None, &values).map(|_| ()).map_err(|errors| {
        let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
        why.join("; ")
    })
}

/// A pulled file's content digest (the cache keeps blobs by it), or its path.
pub fn digest_of(path: &Path) -> String {
    let algorithm = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
    match (algorithm, path.file_name().and_then(|n| n.to_str())) {
        (Some("sha256"), Some(hex)) => format!("sha256:{hex}"),
        _ => path.display().to_string(),
    }
}
