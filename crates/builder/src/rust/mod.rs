//! Rust operators: a cargo crate built for `wasm32-wasip2`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{is_component, BuildError, BuildOptions, BuildOutput, Lang};

pub mod metadata;
mod profile;
pub mod toolchain;

pub use metadata::OperatorCrate;
pub use toolchain::{Toolchain, DEBIAN_PACKAGES, TARGET};

/// Environment variables of an outer cargo (`cargo run -- build`) or of the
/// user's host builds that must not leak into the guest build of the Debian
/// toolchain.
const HOST_ONLY_ENV: &[&str] = &[
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO",
];

/// Builds the crate in `dir`; see the crate docs.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<BuildOutput, BuildError> {
    // Absolute, because cargo runs in the crate's folder.
    let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let krate = metadata::read(dir)?;
    let toolchain = toolchain::find(dir, opts.toolchain)?;
    let target_dir = opts.target_dir.clone().unwrap_or_else(|| krate.target_dir.join("wasm-guests"));
    tracing::info!("building {} ({}) into {}", krate.name, toolchain.describe(), target_dir.display());

    let mut cargo = cargo_command(&krate, &toolchain, &target_dir, opts);
    let mut how = toolchain.describe();
    if opts.mode == crate::BuildMode::Release {
        let defaults = profile::release_defaults(&krate.workspace_root);
        if !defaults.is_empty() {
            let labels: Vec<&str> = defaults.iter().map(|(_, _, label)| label.as_str()).collect();
            how = format!("{how}; release profile defaults {}", labels.join(", "));
        }
        for (var, value, _) in defaults {
            cargo.env(var, value);
        }
    }
    let output = if opts.quiet {
        cargo.stdout(Stdio::piped()).stderr(Stdio::piped());
        cargo.output()
    } else {
        cargo.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        cargo.status().map(|status| std::process::Output { status, stdout: Vec::new(), stderr: Vec::new() })
    }
    .map_err(|source| BuildError::Io { what: "cannot run cargo".to_owned(), source })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        return Err(BuildError::Compile { name: krate.name, toolchain: how, output: text.trim().to_owned() });
    }

    let artifact = target_dir.join(TARGET).join(opts.mode.as_str()).join(format!("{}.wasm", krate.lib_name));
    let bytes = std::fs::read(&artifact).map_err(|err| {
        BuildError::Artifact(format!("cargo succeeded but {} cannot be read ({err})", artifact.display()))
    })?;
    if !is_component(&bytes) {
        return Err(BuildError::Artifact(format!(
            "{} is a core WebAssembly module, not a component; build for {TARGET}",
            artifact.display()
        )));
    }

    let out_dir = krate.dir.join("bin").join(&opts.arch).join(opts.mode.as_str());
    std::fs::create_dir_all(&out_dir)
        .map_err(|source| BuildError::Io { what: format!("cannot create {}", out_dir.display()), source })?;
    let wasm = out_dir.join(format!("{}.wasm", krate.name));
    std::fs::write(&wasm, &bytes)
        .map_err(|source| BuildError::Io { what: format!("cannot write {}", wasm.display()), source })?;
    Ok(BuildOutput { wasm, artifact, name: krate.name, lang: Lang::Rust, toolchain: how })
}

/// The `cargo build` invocation for this toolchain.
fn cargo_command(krate: &OperatorCrate, toolchain: &Toolchain, target_dir: &Path, opts: &BuildOptions) -> Command {
    let mut cmd = match toolchain {
        Toolchain::Plain { .. } => Command::new("cargo"),
        Toolchain::Debian { cargo, linker_dir, wasi_libc, .. } => {
            let mut cmd = Command::new(cargo);
            for var in HOST_ONLY_ENV {
                cmd.env_remove(var);
            }
            let mut path = vec![linker_dir.clone(), PathBuf::from("/usr/bin")];
            if let Some(old) = std::env::var_os("PATH") {
                path.extend(std::env::split_paths(&old));
            }
            if let Ok(path) = std::env::join_paths(path) {
                cmd.env("PATH", path);
            }
            cmd.env("RUSTC_BOOTSTRAP", "1");
            cmd.env("RUSTFLAGS", format!("-L {}", wasi_libc.display()));
            cmd
        }
    };
    cmd.current_dir(&krate.dir)
        .arg("build")
        .arg("--lib")
        .args(["--target", TARGET])
        .arg("--manifest-path")
        .arg(&krate.manifest)
        .env("CARGO_TARGET_DIR", target_dir);
    if matches!(toolchain, Toolchain::Debian { .. }) {
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    if opts.mode == crate::BuildMode::Release {
        cmd.arg("--release");
    }
    if opts.quiet {
        cmd.args(["--color", "never"]);
    }
    cmd
}
