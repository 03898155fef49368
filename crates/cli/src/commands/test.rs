//! `wasmgraph test`: run AIO-format graph test cases (`*.test.yaml`), with
//! the conventions of AIO's application folders (`statestore.json`,
//! `hostapp.env.list`, see `wasmgraph_runtime::AppFolder`).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasmgraph_runtime::{parse_params, AppFolder, HostSettings, Pipeline};
use wasmgraph_state_store::StateStore;
use wasmgraph_test_cases::{discover, TestCase};

/// Arguments of `wasmgraph test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test case files or directories to search for `*.test.yaml` (default:
    /// the `--app` folder, else .).
    pub paths: Vec<PathBuf>,
    /// The application folder of every case (AIO's layout): its
    /// `statestore.json` seeds the state store and its `hostapp.env.list`
    /// configures the host. Default: the folder holding each case's graph.
    #[arg(long, value_name = "DIR")]
    pub app: Option<PathBuf>,
    /// Run only the cases whose name or file path contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Keep the state store from one case to the next. Without it every case
    /// starts from its application folder's `statestore.json` (and its own
    /// `state:`); with it the folder's seed is written once, before its first case.
    #[arg(long)]
    pub keep_state: bool,
    /// Where module references resolve, for cases that do not say (`modules:`)
    /// and whose application folder has no `operators/` folder.
    #[arg(long, default_value = ".")]
    pub modules: PathBuf,
    /// Worker threads, for cases that do not say.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Where compiled modules are cached.
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

enum Outcome {
    Pass,
    Fail(Vec<String>),
}

/// What lasts from one case to the next: application folders read once (and
/// their warnings shown once), the store `--keep-state` shares.
#[derive(Default)]
struct Session {
    apps: HashMap<PathBuf, AppFolder>,
    warned: HashSet<String>,
    shared: Option<StateStore>,
    seeded: HashSet<PathBuf>,
}

impl Session {
    fn warn(&mut self, warning: &str) {
        if self.warned.insert(warning.to_string()) {
            eprintln!("warning: {warning}");
        }
    }

    /// The application folder `dir`, read on first use.
    fn app(&mut self, dir: &Path) -> Result<AppFolder> {
        if let Some(app) = self.apps.get(dir) {
            return Ok(app.clone());
        }
        let app = AppFolder::load(dir)?;
        for warning in &app.warnings {
            self.warn(warning);
        }
        self.apps.insert(dir.to_path_buf(), app.clone());
        Ok(app)
    }
}

impl TestArgs {
    pub fn execute(self) -> Result<ExitCode> {
        let paths = match (&self.paths, &self.app) {
            (paths, _) if !paths.is_empty() => paths.clone(),
            (_, Some(app)) => vec![app.clone()],
            _ => vec![PathBuf::from(".")],
        };
        let cases = discover(&paths)?;
        if cases.is_empty() {
            bail!("no *.test.yaml files under {}", shown(&paths));
        }
        let mut session = Session::default();
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        for file in &cases {
            let started = Instant::now();
            let loaded = TestCase::load(file);
            let name = loaded.as_ref().map_or_else(|_| file.display().to_string(), |case| case.name.clone());
            if !self.selected(&name, file) {
                skipped += 1;
                continue;
            }
            let outcome = match loaded {
                Ok(case) => self.run_case(&case, &mut session).unwrap_or_else(|e| Outcome::Fail(lines_of(&e))),
                Err(e) => Outcome::Fail(vec![e.to_string()]),
            };
            match outcome {
                Outcome::Pass => {
                    passed += 1;
                    println!("PASS {name} ({}) {:.2?}", file.display(), started.elapsed());
                }
                Outcome::Fail(lines) => {
                    failed += 1;
                    println!("FAIL {name} ({})", file.display());
                    for line in lines {
                        println!("    {line}");
                    }
                }
            }
        }
        if passed + failed == 0 {
            bail!("no test case under {} matches --filter {:?}", shown(&paths), self.filter.as_deref().unwrap_or(""));
        }
        let skipped = if skipped > 0 { format!(", {skipped} not selected by --filter") } else { String::new() };
        println!("{passed} passed, {failed} failed{skipped}");
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }

    fn selected(&self, name: &str, file: &Path) -> bool {
        self.filter.as_deref().is_none_or(|text| name.contains(text) || file.to_string_lossy().contains(text))
    }

    /// The pipeline of `case`: its graph over its input, in its application folder.
    fn pipeline(&self, case: &TestCase, output: &Path, session: &mut Session) -> Result<Pipeline> {
        let app_dir = self.app.clone().unwrap_or_else(|| AppFolder::dir_of_graph(&case.graph));
        let app = session.app(&app_dir)?;
        let modules = case.modules.clone().or_else(|| app.operators()).unwrap_or_else(|| self.modules.clone());
        let mut pipeline = Pipeline::files(&case.graph, modules, &case.input, output);
        let params: Vec<String> = case.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pipeline.parameters = parse_params(&params)?;
        pipeline.host = HostSettings {
            cache_dir: self.cache_dir.clone(),
            state_seed: case.state.clone(),
            ..HostSettings::default()
        };
        pipeline.workers = case.workers.unwrap_or(self.workers);
        for warning in app.apply(&mut pipeline)? {
            session.warn(&warning);
        }
        if self.keep_state {
            pipeline.host.shared_state = Some(session.shared.get_or_insert_with(StateStore::new).clone());
            if !session.seeded.insert(app.dir.clone()) {
                pipeline.host.app_state_seed = None;
            }
        }
        Ok(pipeline)
    }

    fn run_case(&self, case: &TestCase, session: &mut Session) -> Result<Outcome> {
        let output = tempfile::tempdir().context("creating a temporary output directory")?;
        let pipeline = self.pipeline(case, output.path(), session)?;
        let output_file = output.path().join("output.jsonl");
        // The run happens on its own thread so the case's timeout can be enforced.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pipeline.run());
        });
        match rx.recv_timeout(case.timeout) {
            Ok(result) => result?,
            Err(_) => return Ok(Outcome::Fail(vec![format!("timed out after {:?}", case.timeout)])),
        };
        let file = std::fs::File::open(&output_file).with_context(|| format!("reading {}", output_file.display()))?;
        let mut records = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            records.push(serde_json::from_str(&line?)?);
        }
        Ok(match case.check(&records)? {
            Ok(()) => Outcome::Pass,
            Err(mismatches) => {
                let mut lines: Vec<String> = mismatches.iter().map(|m| m.to_string()).collect();
                lines.push(format!("({} output record(s); expected {})", records.len(), case.expected_file.display()));
                Outcome::Fail(lines)
            }
        })
    }
}

/// An error's message, one line per line: a graph's problems are listed one
/// per line under the case.
fn lines_of(error: &anyhow::Error) -> Vec<String> {
    format!("{error:#}").lines().map(str::to_string).collect()
}

fn shown(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
