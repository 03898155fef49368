//! componentize-py, installed on demand into a project-local virtual environment.
//!
//! The environment lives in `<project>/.wasmgraph/python/componentize-py-<version>`,
//! where `<project>` is the nearest folder above the operator that holds `.git`
//! (else the operator's own folder), so every operator of a repository shares one
//! install. `WASMGRAPH_PYTHON_VENV` names another folder; `WASMGRAPH_PYTHON`
//! another interpreter (default `python3`, 3.9 or newer).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::BuildError;

/// The componentize-py version `wasmgraph build` installs: the one Azure IoT
/// Operations' own Python builder pins, so a module built here is the module
/// AIO's tooling would build (CPython 3.12, WASI `@0.2.0` imports).
pub const COMPONENTIZE_PY_VERSION: &str = "0.14.0";

/// A componentize-py that can be run.
#[derive(Clone, Debug)]
pub struct ComponentizePy {
    /// The virtual environment's interpreter.
    pub python: PathBuf,
    /// The environment's folder.
    pub venv: PathBuf,
    /// The installed version, e.g. `0.14.0`.
    pub version: String,
    /// Whether it takes `--world-module` (0.17 and later, whose bindings module
    /// is `wit_world` unless told otherwise); 0.14 always names it after the
    /// world, e.g. `map_impl`.
    pub world_module_option: bool,
}

impl ComponentizePy {
    /// `componentize-py` with these global arguments. Runs through the venv's
    /// interpreter, so the environment may be moved; VIRTUAL_ENV is cleared so
    /// that componentize-py does not bundle the tool's own site-packages.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-c", "import sys, componentize_py; sys.exit(componentize_py.script())"])
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0");
        cmd
    }

    /// `"componentize-py 0.14.0"`.
    pub fn describe(&self) -> String {
        format!("componentize-py {}", self.version)
    }
}

/// The version to use: `WASMGRAPH_COMPONENTIZE_PY_VERSION`, else the pinned one.
pub fn wanted_version() -> String {
    std::env::var("WASMGRAPH_COMPONENTIZE_PY_VERSION")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| COMPONENTIZE_PY_VERSION.to_owned())
}

/// The interpreter used to create the environment and to read operator files.
pub fn system_python() -> PathBuf {
    std::env::var_os("WASMGRAPH_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Where the environment for `version` lives, for an operator in `dir`.
pub fn venv_dir(dir: &Path, version: &str) -> PathBuf {
    if let Some(custom) = std::env::var_os("WASMGRAPH_PYTHON_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(custom);
    }
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let project = dir.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&dir).to_path_buf();
    project.join(".wasmgraph").join("python").join(format!("componentize-py-{version}"))
}

/// componentize-py for an operator in `dir`, installed first if missing.
/// `progress` receives one line per slow step (creating the environment,
/// installing).
pub fn ensure(dir: &Path, progress: &mut dyn FnMut(&str)) -> Result<ComponentizePy, BuildError> {
    let version = wanted_version();
    let venv = venv_dir(dir, &version);
    let python = venv.join("bin").join("python");
    if let Some(found) = installed_version(&python) {
        if found == version {
            return Ok(found_tool(python, venv, version));
        }
    }

    // One install at a time (parallel builds and tests share the folder):
    // whoever holds the lock installs, the others wait and then use it.
    let parent = venv.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&parent)
        .map_err(|source| BuildError::Io { what: format!("cannot create {}", parent.display()), source })?;
    let _lock = InstallLock::acquire(&parent.join(format!(".componentize-py-{version}.lock")))?;
    if installed_version(&python).as_deref() == Some(version.as_str()) {
        return Ok(found_tool(python, venv, version));
    }
    // Install into a fresh folder next to the final one, then move it into
    // place, so that an interrupted install never looks finished.
    let staging = parent.join(format!(
        ".{}.installing-{}",
        venv.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let system = system_python();
    progress(&format!("installing componentize-py {version} into {} (once per project)", venv.display()));
    run_checked(
        Command::new(&system).arg("-m").arg("venv").arg(&staging),
        &format!("creating a Python virtual environment with `{} -m venv`", system.display()),
        "install Python 3 with its venv module (Debian: `apt-get install python3-venv`), \
         or set WASMGRAPH_PYTHON to an interpreter that has it",
    )?;
    let staged_python = staging.join("bin").join("python");
    run_checked(
        Command::new(&staged_python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("componentize-py=={version}")),
        &format!("installing componentize-py {version} with pip"),
        "check that PyPI can be reached (or a pip index is configured), and that \
         WASMGRAPH_COMPONENTIZE_PY_VERSION, if set, names a published version",
    )?;
    if installed_version(&staged_python).as_deref() != Some(version.as_str()) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(BuildError::NoToolchain(format!(
            "componentize-py {version} was installed into {} but does not run",
            staging.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&venv);
    if let Err(source) = std::fs::rename(&staging, &venv) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(BuildError::Io { what: format!("cannot move the environment to {}", venv.display()), source });
    }
    match installed_version(&python) {
        Some(found) if found == version => Ok(found_tool(python, venv, version)),
        _ => Err(BuildError::NoToolchain(format!(
            "componentize-py {version} is not usable in {}; delete that folder and build again",
            venv.display()
        ))),
    }
}

fn found_tool(python: PathBuf, venv: PathBuf, version: String) -> ComponentizePy {
    let mut tool = ComponentizePy { python, venv, version, world_module_option: false };
    tool.world_module_option = tool
        .command()
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("--world-module"))
        .unwrap_or(false);
    tool
}

/// A lock file held while componentize-py is installed; removed on drop. A
/// lock older than ten minutes is taken to be left by a killed build.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Result<InstallLock, BuildError> {
        let started = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return Ok(InstallLock(path.to_path_buf())),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > std::time::Duration::from_secs(600));
                    if stale || started.elapsed() > std::time::Duration::from_secs(900) {
                        let _ = std::fs::remove_file(path);
                    } else {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                }
                Err(source) => {
                    return Err(BuildError::Io { what: format!("cannot create {}", path.display()), source })
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The componentize-py version installed for `python`, if it runs.
fn installed_version(python: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let out = Command::new(python)
        .args(["-c", "import sys, componentize_py; sys.exit(componentize_py.script())", "--version"])
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // "componentize-py 0.14.0"
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).map(str::to_owned)
}

/// Runs `cmd`, turning a failure into a [`BuildError::NoToolchain`] that says
/// what was being done, what it printed, and `fix`.
fn run_checked(cmd: &mut Command, doing: &str, fix: &str) -> Result<Output, BuildError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|err| BuildError::NoToolchain(format!("{doing} failed: cannot start it ({err}); {fix}")))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout.trim().is_empty() {
            text.push('\n');
            text.push_str(stdout.trim());
        }
        return Err(BuildError::NoToolchain(format!("{doing} failed:\n{text}\n{fix}")));
    }
    Ok(out)
}
