//! Rust operators: a cargo crate built for `wasm32-wasip2`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{is_component, BuildError, BuildOptions, BuildOutput, Lang};

pub mod metadata;
mod profile;
pub mod sdk;
pub mod sysroot;
pub mod toolchain;

pub use metadata::OperatorCrate;
pub use sysroot::Sysroot;
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
    let started = Instant::now();
    // Absolute, because cargo runs in the crate's folder.
    let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let krate = metadata::read(dir)?;
    let toolchain = toolchain::find(dir, opts.toolchain)?;
    let target_dir = opts.target_dir.clone().unwrap_or_else(|| krate.target_dir.join("wasm-guests"));
    let sysroot = match &toolchain {
        Toolchain::Plain { .. } => None,
        Toolchain::Debian { cargo, rustc, linker_dir, wasi_libc, .. } => {
            let parts = sysroot::DebianParts { cargo, rustc, linker_dir, wasi_libc };
            Some(sysroot::ensure(&parts, &sysroot::cache_root(opts.cache_dir.as_deref())?, opts.quiet)?)
        }
    };
    tracing::info!("building {} ({}) into {}", krate.name, toolchain.describe(), target_dir.display());

    let mut cargo = cargo_command(&krate, &toolchain, sysroot.as_ref(), &target_dir, opts);
    let mut how = toolchain.describe();
    if let Some(sysroot) = &sysroot {
        how = format!("{how}, standard library from {}", sysroot.dir.display());
    }
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
    let output = run(&mut cargo, opts.quiet)?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        if text.contains("undefined symbol: pthread_") && sysroot.as_ref().is_some_and(|s| s.pthread_stubs.is_none()) {
            text.push_str(
                "\nDebian's wasi-libc has no pthread functions and no clang was found to compile the \
                 builder's single-threaded stubs: install clang-19 (scripts/setup.sh does)",
            );
        }
        return Err(BuildError::Compile { name: krate.name, toolchain: how, output: text.trim().to_owned() });
    }
    let (wasm, artifact) = install(&krate, &target_dir, opts)?;
    Ok(BuildOutput {
        wasm,
        artifact,
        name: krate.name,
        lang: Lang::Rust,
        toolchain: how,
        std_built_in: sysroot.and_then(|s| s.built_in),
        elapsed: started.elapsed(),
    })
}

/// Runs `cargo`, its output captured (`quiet`) or passed through.
fn run(cargo: &mut Command, quiet: bool) -> Result<std::process::Output, BuildError> {
    if quiet {
        cargo.stdout(Stdio::piped()).stderr(Stdio::piped());
        cargo.output()
    } else {
        cargo.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        cargo.status().map(|status| std::process::Output { status, stdout: Vec::new(), stderr: Vec::new() })
    }
    .map_err(|source| BuildError::Io { what: "cannot run cargo".to_owned(), source })
}

/// Checks cargo's artifact and copies it to `<crate>/bin/<arch>/<mode>/<name>.wasm`;
/// returns both paths.
fn install(krate: &OperatorCrate, target_dir: &Path, opts: &BuildOptions) -> Result<(PathBuf, PathBuf), BuildError> {
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
    Ok((wasm, artifact))
}

/// Clears what an outer cargo or the user's host builds set (see
/// [`HOST_ONLY_ENV`]) and puts the Debian toolchain and its linker first on PATH.
pub(crate) fn clean_env(cmd: &mut Command, linker_dir: &Path) {
    for var in HOST_ONLY_ENV {
        cmd.env_remove(var);
    }
    let mut path = vec![linker_dir.to_path_buf(), PathBuf::from("/usr/bin")];
    if let Some(old) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&old));
    }
    if let Ok(path) = std::env::join_paths(path) {
        cmd.env("PATH", path);
    }
}

/// Flags as `CARGO_ENCODED_RUSTFLAGS` takes them (separated by 0x1f), so that
/// paths with spaces stay whole.
pub(crate) fn encoded_flags(flags: &[std::ffi::OsString]) -> std::ffi::OsString {
    flags.join(std::ffi::OsStr::new("\u{1f}"))
}

/// The `cargo build` invocation for this toolchain: with the Debian one,
/// against the prebuilt `sysroot` (no `-Zbuild-std`), wasi-libc and the
/// pthread stubs.
fn cargo_command(
    krate: &OperatorCrate,
    toolchain: &Toolchain,
    sysroot: Option<&Sysroot>,
    target_dir: &Path,
    opts: &BuildOptions,
) -> Command {
    let mut cmd = match toolchain {
        Toolchain::Plain { .. } => Command::new("cargo"),
        Toolchain::Debian { cargo, rustc, linker_dir, wasi_libc, .. } => {
            let mut cmd = Command::new(cargo);
            clean_env(&mut cmd, linker_dir);
            let mut flags = vec!["-L".into(), wasi_libc.as_os_str().to_owned()];
            if let Some(sysroot) = sysroot {
                flags.extend(["--sysroot".into(), sysroot.dir.as_os_str().to_owned()]);
                if let Some(stubs) = &sysroot.pthread_stubs {
                    let mut arg = std::ffi::OsString::from("link-arg=");
                    arg.push(stubs);
                    flags.extend(["-C".into(), arg]);
                }
            }
            cmd.env("RUSTC", rustc).env("CARGO_ENCODED_RUSTFLAGS", encoded_flags(&flags));
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
    if opts.mode == crate::BuildMode::Release {
        cmd.arg("--release");
    }
    if opts.quiet {
        cmd.args(["--color", "never"]);
    }
    cmd
}
