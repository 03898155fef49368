//! Third-party Python packages: `requirements.txt` beside the operator.
//!
//! componentize-py bundles the folders it is given with `-p` and the standard
//! library, nothing else; an operator that imports a package from PyPI fails
//! at load with `ModuleNotFoundError`. So when the operator's folder has a
//! `requirements.txt`, pip installs it (with the componentize-py environment's
//! own pip) into a folder of the build, which becomes a second `-p`.
//!
//! Only pure-Python wheels (`py3-none-any`) are asked for: a package with
//! native extensions has host machine code that cannot run in a WebAssembly
//! component, and pip's refusal ("no matching distribution") is turned into a
//! message that says so. The install is skipped when `requirements.txt` has
//! not changed since the last build (a stamp beside the packages).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::toolchain::ComponentizePy;
use crate::BuildError;

/// The file pip reads, in the operator's folder.
pub const FILE: &str = "requirements.txt";

/// Installs the packages of `<dir>/requirements.txt` into `<work>/deps` and
/// returns that folder; `None` when there is no requirements file.
pub fn install(
    tool: &ComponentizePy,
    dir: &Path,
    work: &Path,
    say: &mut dyn FnMut(&str),
) -> Result<Option<PathBuf>, BuildError> {
    let file = dir.join(FILE);
    let wanted = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(BuildError::Io { what: format!("cannot read {}", file.display()), source }),
    };
    let deps = work.join("deps");
    let stamp = deps.join(".wasmgraph-requirements");
    if std::fs::read_to_string(&stamp).is_ok_and(|done| done == wanted) {
        return Ok(Some(deps));
    }
    say(&format!("installing the packages of {} (pure-Python wheels only)", file.display()));
    let _ = std::fs::remove_dir_all(&deps);
    std::fs::create_dir_all(&deps)
        .map_err(|source| BuildError::Io { what: format!("cannot create {}", deps.display()), source })?;
    let output = std::process::Command::new(&tool.python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"])
        .args(["--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none"])
        .arg("--target")
        .arg(&deps)
        .arg("-r")
        .arg(&file)
        // Relative paths in the file (local wheels) are relative to it.
        .current_dir(dir)
        .env_remove("PYTHONPATH")
        .env_remove("PIP_TARGET")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Io { what: format!("cannot run {} -m pip", tool.python.display()), source })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let detail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut message = format!("pip could not install the packages it lists: {}", detail.join("\n  "));
        if text.contains("No matching distribution") || text.contains("from versions: none") {
            message.push_str(
                "\n  (only pure-Python packages can go into a component: a package needs a \
                 `py3-none-any` wheel; one with native extensions cannot run in WebAssembly)",
            );
        }
        return Err(BuildError::Source { file, line: None, message });
    }
    std::fs::write(&stamp, &wanted)
        .map_err(|source| BuildError::Io { what: format!("cannot write {}", stamp.display()), source })?;
    Ok(Some(deps))
}
