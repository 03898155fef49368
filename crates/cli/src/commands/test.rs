//! `wasmgraph test`: run AIO-format graph test cases (`*.test.yaml`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasmgraph_test_cases::{discover, TestCase};

use wasmgraph_runtime::{parse_params, HostSettings, Pipeline};

/// Arguments of `wasmgraph test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test case files or directories to search for `*.test.yaml` (default: .).
    pub paths: Vec<PathBuf>,
    /// Where module references resolve, for cases that do not say (`modules:`).
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

impl TestArgs {
    pub fn execute(self) -> Result<ExitCode> {
        let paths = if self.paths.is_empty() { vec![PathBuf::from(".")] } else { self.paths.clone() };
        let cases = discover(&paths)?;
        if cases.is_empty() {
            bail!(
                "no *.test.yaml files under {}",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        let (mut passed, mut failed) = (0, 0);
        for file in &cases {
            let started = Instant::now();
            let (name, outcome) = match TestCase::load(file) {
                Ok(case) => {
                    let outcome = self.run_case(&case).unwrap_or_else(|e| Outcome::Fail(vec![format!("{e:#}")]));
                    (case.name, outcome)
                }
                Err(e) => (file.display().to_string(), Outcome::Fail(vec![e.to_string()])),
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
        println!("{passed} passed, {failed} failed");
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }

    fn run_case(&self, case: &TestCase) -> Result<Outcome> {
        let output = tempfile::tempdir().context("creating a temporary output directory")?;
        let modules = case.modules.clone().unwrap_or_else(|| self.modules.clone());
        let mut pipeline = Pipeline::files(&case.graph, modules, &case.input, output.path());
        let params: Vec<String> = case.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pipeline.parameters = parse_params(&params)?;
        pipeline.host = HostSettings {
            cache_dir: self.cache_dir.clone(),
            state_seed: case.state.clone(),
            ..HostSettings::default()
        };
        pipeline.workers = case.workers.unwrap_or(self.workers);
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
