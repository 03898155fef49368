//! Finding a toolchain that builds `wasm32-wasip2` (see TOOLCHAIN.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{BuildError, ToolchainChoice};

pub const TARGET: &str = "wasm32-wasip2";

/// The Debian packages of the fallback (clang compiles the pthread stubs that
/// Debian's wasi-libc lacks; see [`super::sysroot`]).
pub const DEBIAN_PACKAGES: &str = "rustc-web cargo-web rust-web-src lld-19 wasi-libc clang-19";

/// A toolchain that can build the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// The active (rustup) toolchain, which has the target's standard library.
    Plain { version: String },
    /// Debian's rustc-web/cargo-web, with the standard library compiled from
    /// source once per toolchain ([`super::sysroot`]).
    Debian {
        cargo: PathBuf,
        rustc: PathBuf,
        /// The folder holding `wasm-ld`, put first on PATH.
        linker_dir: PathBuf,
        /// wasi-libc's folder, passed with `-L`.
        wasi_libc: PathBuf,
        version: String,
    },
}

impl Toolchain {
    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            Toolchain::Plain { version } => format!("{version}, target {TARGET}"),
            Toolchain::Debian { version, .. } => {
                format!("{version} from Debian")
            }
        }
    }
}

/// Picks the toolchain for a crate in `dir` (whose rust-toolchain file, if any,
/// the active toolchain honours).
pub fn find(dir: &Path, choice: ToolchainChoice) -> Result<Toolchain, BuildError> {
    let plain = || plain(dir);
    let debian = debian;
    match choice {
        ToolchainChoice::Plain => plain().map_err(|why| no_toolchain(&why, None)),
        ToolchainChoice::Debian => debian().map_err(|why| no_toolchain_debian(&why)),
        ToolchainChoice::Auto => match plain() {
            Ok(found) => Ok(found),
            Err(plain_why) => match debian() {
                Ok(found) => {
                    tracing::info!("{plain_why}; using the Debian fallback toolchain");
                    Ok(found)
                }
                Err(debian_why) => Err(no_toolchain(&plain_why, Some(&debian_why))),
            },
        },
    }
}

fn no_toolchain(plain_why: &str, debian_why: Option<&str>) -> BuildError {
    let mut message = format!("cannot build for {TARGET}: {plain_why}");
    if let Some(debian_why) = debian_why {
        message.push_str(&format!(", and the Debian fallback is not installed ({debian_why})"));
    }
    message.push_str(&format!(
        ". Either add the target to your Rust toolchain: `rustup target add {TARGET}`; \
         or, on Debian/Ubuntu without that, install: `apt-get update && apt-get install -y \
         {DEBIAN_PACKAGES}`"
    ));
    BuildError::NoToolchain(message)
}

fn no_toolchain_debian(why: &str) -> BuildError {
    BuildError::NoToolchain(format!(
        "the Debian toolchain for {TARGET} is not installed ({why}); install it with \
         `apt-get update && apt-get install -y {DEBIAN_PACKAGES}`"
    ))
}

/// The active toolchain, if its `rustc` has the target's standard library.
fn plain(dir: &Path) -> Result<Toolchain, String> {
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", TARGET])
        .current_dir(dir)
        .output()
        .map_err(|err| format!("cannot run `rustc`: {err}"))?;
    if !libdir.status.success() {
        return Err(format!(
            "the active rustc does not know the target {TARGET} ({})",
            String::from_utf8_lossy(&libdir.stderr).trim()
        ));
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&libdir.stdout).trim());
    if !has_std(&libdir) {
        return Err(format!(
            "the active Rust toolchain has no standard library for {TARGET} (nothing in {})",
            libdir.display()
        ));
    }
    Ok(Toolchain::Plain { version: version(Path::new("cargo"), dir) })
}

fn has_std(libdir: &Path) -> bool {
    std::fs::read_dir(libdir)
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libstd-") && name.ends_with(".rlib")
            })
        })
        .unwrap_or(false)
}

/// Debian's toolchain, when all of its parts are installed.
fn debian() -> Result<Toolchain, String> {
    let cargo = PathBuf::from("/usr/bin/cargo");
    let rustc = PathBuf::from("/usr/bin/rustc");
    let mut missing = Vec::new();
    if !cargo.is_file() {
        missing.push("/usr/bin/cargo (cargo-web)".to_owned());
    }
    if !rustc.is_file() {
        missing.push("/usr/bin/rustc (rustc-web)".to_owned());
    } else {
        let sysroot = Command::new(&rustc)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let src = sysroot.map(|s| s.join("lib/rustlib/src/rust/library"));
        if !src.as_deref().is_some_and(|s| s.join("Cargo.toml").is_file()) {
            missing.push("the standard library's source (rust-web-src)".to_owned());
        }
    }
    let linker_dir = newest_llvm_with_wasm_ld();
    if linker_dir.is_none() {
        missing.push("wasm-ld in /usr/lib/llvm-*/bin (lld-19)".to_owned());
    }
    let wasi_libc = PathBuf::from("/usr/lib/wasm32-wasi");
    if !wasi_libc.join("libc.a").is_file() {
        missing.push("/usr/lib/wasm32-wasi/libc.a (wasi-libc)".to_owned());
    }
    match linker_dir {
        Some(linker_dir) if missing.is_empty() => {
            let version = version(&cargo, Path::new("/"));
            Ok(Toolchain::Debian { cargo, rustc, linker_dir, wasi_libc, version })
        }
        _ => Err(format!("missing {}", missing.join(", "))),
    }
}

/// `/usr/lib/llvm-<N>/bin` with the highest N that has `wasm-ld`.
fn newest_llvm_with_wasm_ld() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib").ok()?;
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let major: u32 = name.strip_prefix("llvm-")?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("wasm-ld").is_file().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

/// `cargo 1.96.0`, or just the program when it does not answer.
fn version(cargo: &Path, dir: &Path) -> String {
    Command::new(cargo)
        .arg("--version")
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        // `cargo 1.96.0 (30a34c682 2026-05-25)` -> `cargo 1.96.0`
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| cargo.display().to_string())
}
