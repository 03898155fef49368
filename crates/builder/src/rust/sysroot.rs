//! The Debian fallback's standard library, built once per toolchain, and its
//! pthread stubs.
//!
//! Debian's `rustc-web` has no standard library for `wasm32-wasip2`, only its
//! source. Compiling it inside every operator's build (`-Zbuild-std`) costs
//! about a minute per crate, so a folder of a dozen operators took a quarter of
//! an hour. Instead the builder compiles it once per toolchain into a sysroot
//! in the user's cache (`<cache>/std/<key>/sysroot`, `<cache>` being
//! `WASMGRAPH_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmgraph`, else
//! `~/.cache/wasmgraph`) and builds operators against it with `--sysroot`,
//! exactly like a toolchain that ships the target. The key hashes the
//! compiler's version, the library's source and how it is built, so another
//! toolchain gets its own sysroot. The host's part of the sysroot (proc-macro
//! support, the linker wrappers) is a symbolic link to the real one.
//!
//! The library is built with bitcode embedded, so the release profile's
//! link-time optimisation reaches into it, as with rustup's prebuilt library.
//!
//! Debian's wasi-libc (2022) predates wasi-libc's single-threaded pthread
//! functions, which the library (`std::thread`) and crates such as rayon refer
//! to; `pthread_stubs.c` provides them with single-threaded semantics. It is
//! compiled once per toolchain by clang and linked into every operator when
//! wasi-libc lacks them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::toolchain::TARGET;
use crate::BuildError;

/// What an operator build with the Debian toolchain links against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysroot {
    /// The folder to pass as `--sysroot`.
    pub dir: PathBuf,
    /// How long building the library took, when this call built it (`None`
    /// when it was already in the cache).
    pub built_in: Option<Duration>,
    /// The compiled pthread stubs to link, when wasi-libc lacks pthreads and
    /// clang is there to compile them.
    pub pthread_stubs: Option<PathBuf>,
}

/// The parts of the Debian toolchain the library build needs.
pub(crate) struct DebianParts<'a> {
    pub cargo: &'a Path,
    pub rustc: &'a Path,
    pub linker_dir: &'a Path,
    pub wasi_libc: &'a Path,
}

/// The pthread stubs' source, compiled by [`pthread_stubs`].
const PTHREAD_STUBS_C: &str = include_str!("pthread_stubs.c");

/// Changes whenever the way the library is built changes, so that older
/// sysroots are not taken for current ones.
const RECIPE: &str = "wasmgraph std v1: -Zbuild-std=std,panic_abort, release, opt-level 3, embed-bitcode";

/// The cache folder of the builder: `explicit`, else `WASMGRAPH_CACHE_DIR`,
/// else `$XDG_CACHE_HOME/wasmgraph`, else `~/.cache/wasmgraph`.
pub fn cache_root(explicit: Option<&Path>) -> Result<PathBuf, BuildError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    explicit
        .map(Path::to_path_buf)
        .or_else(|| var("WASMGRAPH_CACHE_DIR"))
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("wasmgraph")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/wasmgraph")))
        .ok_or_else(|| {
            BuildError::NoToolchain(
                "no cache folder for the standard library: set WASMGRAPH_CACHE_DIR (or HOME)".to_owned(),
            )
        })
}

/// The sysroot for `parts`, building the library first if the cache lacks it.
pub(crate) fn ensure(parts: &DebianParts<'_>, cache: &Path, quiet: bool) -> Result<Sysroot, BuildError> {
    let info = run_text(parts.rustc, &["-vV"])?;
    let real_sysroot = PathBuf::from(run_text(parts.rustc, &["--print", "sysroot"])?.trim());
    let host = info.lines().find_map(|l| l.strip_prefix("host: ")).map(str::trim).unwrap_or("x86_64-unknown-linux-gnu");
    let source = real_sysroot.join("lib/rustlib/src/rust/library");
    let lock = std::fs::read(source.join("Cargo.lock")).unwrap_or_default();
    let key = short_hash(&[info.as_bytes(), &lock, RECIPE.as_bytes(), parts.wasi_libc.as_os_str().as_encoded_bytes()]);
    let home = cache.join("std").join(&key);
    let dir = home.join("sysroot");
    let libdir = dir.join("lib/rustlib").join(TARGET).join("lib");

    let built_in = if libdir.join(".complete").is_file() {
        None
    } else {
        std::fs::create_dir_all(&home).map_err(io(format!("cannot create {}", home.display())))?;
        // One build at a time per toolchain; whoever waited finds it done.
        let lock_file = File::create(home.join(".lock")).map_err(io(format!("cannot create {}", home.display())))?;
        lock_file.lock().map_err(io(format!("cannot lock {}", home.display())))?;
        if libdir.join(".complete").is_file() {
            None
        } else {
            let started = Instant::now();
            build_library(parts, &home, &libdir, quiet)?;
            link_host_part(&dir, &real_sysroot, host)?;
            std::fs::write(libdir.join(".complete"), format!("{}\n{RECIPE}\n", info.trim()))
                .map_err(io(format!("cannot write {}", libdir.display())))?;
            Some(started.elapsed())
        }
    };
    let pthread_stubs = if has_pthreads(parts.wasi_libc) { None } else { pthread_stubs(parts, &home)? };
    Ok(Sysroot { dir, built_in, pthread_stubs })
}

/// Compiles the library in a throw-away crate under `home/build` and moves its
/// rlibs into `libdir`.
fn build_library(parts: &DebianParts<'_>, home: &Path, libdir: &Path, quiet: bool) -> Result<(), BuildError> {
    let build = home.join("build");
    let files = [
        (
            "Cargo.toml",
            "[package]\nname = \"wasmgraph-std\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [profile.release]\nopt-level = 3\ndebug = false\npanic = \"abort\"\n\n[workspace]\n",
        ),
        ("src/lib.rs", "//! Nothing: built for the standard library it makes cargo compile.\n"),
    ];
    for (name, text) in files {
        let path = build.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(&build))
            .map_err(io(format!("cannot create {}", build.display())))?;
        std::fs::write(&path, text).map_err(io(format!("cannot write {}", path.display())))?;
    }
    if !quiet {
        eprintln!(
            "building the standard library for {TARGET} once for this toolchain (a minute or two) into {}",
            home.display()
        );
    }
    let mut cargo = Command::new(parts.cargo);
    super::clean_env(&mut cargo, parts.linker_dir);
    cargo
        .current_dir(&build)
        .args(["build", "--release", "-Zbuild-std=std,panic_abort", "--target", TARGET])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTC", parts.rustc)
        // Bitcode in the rlibs lets an operator's LTO see into the library.
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            super::encoded_flags(&["-L".into(), parts.wasi_libc.into(), "-Cembed-bitcode=yes".into()]),
        )
        .env("CARGO_TARGET_DIR", build.join("target"));
    let output = if quiet {
        cargo.stdout(Stdio::piped()).stderr(Stdio::piped()).output()
    } else {
        cargo.stdout(Stdio::inherit()).stderr(Stdio::inherit()).status().map(|status| std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
    .map_err(io("cannot run cargo".to_owned()))?;
    if !output.status.success() {
        return Err(BuildError::Compile {
            name: format!("the standard library for {TARGET}"),
            toolchain: "Debian's rustc-web with rust-web-src".to_owned(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    move_rlibs(&build.join("target").join(TARGET).join("release/deps"), libdir)?;
    // The rlibs moved out; the rest (the throw-away crate's output) is waste.
    let _ = std::fs::remove_dir_all(&build);
    Ok(())
}

/// Moves every rlib of the library (all of `deps` but the throw-away crate's)
/// into `libdir`.
fn move_rlibs(deps: &Path, libdir: &Path) -> Result<(), BuildError> {
    if libdir.exists() {
        std::fs::remove_dir_all(libdir).map_err(io(format!("cannot clear {}", libdir.display())))?;
    }
    std::fs::create_dir_all(libdir).map_err(io(format!("cannot create {}", libdir.display())))?;
    let entries = std::fs::read_dir(deps).map_err(io(format!("cannot read {}", deps.display())))?;
    let mut moved = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rlib") && !name.starts_with("libwasmgraph_std-") {
            std::fs::rename(entry.path(), libdir.join(&name)).map_err(io(format!("cannot move {name}")))?;
            moved += 1;
        }
    }
    if moved == 0 || !libdir_has(libdir, "libstd-") {
        return Err(BuildError::Artifact(format!(
            "the standard library build left no libstd rlib in {}",
            deps.display()
        )));
    }
    Ok(())
}

fn libdir_has(libdir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(libdir)
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
        .unwrap_or(false)
}

/// The host's libraries and tools (proc-macro support, `wasm-component-ld`)
/// stay the toolchain's own: `<sysroot>/lib/rustlib/<host>` links to them.
fn link_host_part(dir: &Path, real_sysroot: &Path, host: &str) -> Result<(), BuildError> {
    let link = dir.join("lib/rustlib").join(host);
    let target = real_sysroot.join("lib/rustlib").join(host);
    if std::fs::symlink_metadata(&link).is_ok() {
        std::fs::remove_file(&link).map_err(io(format!("cannot replace {}", link.display())))?;
    }
    #[cfg(unix)]
    return std::os::unix::fs::symlink(&target, &link).map_err(io(format!("cannot link {}", link.display())));
    #[cfg(not(unix))]
    return Err(BuildError::NoToolchain(format!(
        "the Debian fallback needs symbolic links to {}; use `rustup target add {TARGET}` instead",
        target.display()
    )));
}

/// Whether wasi-libc in `dir` has pthread functions of its own (newer
/// releases do): its archive's symbol table names them.
fn has_pthreads(dir: &Path) -> bool {
    let Ok(libc) = std::fs::read(dir.join("libc.a")) else { return false };
    libc.windows(b"pthread_mutex_lock\0".len()).any(|w| w == b"pthread_mutex_lock\0")
}

/// The compiled pthread stubs, from the cache or compiled now with clang.
/// `None` (with a warning) when no clang is installed.
fn pthread_stubs(parts: &DebianParts<'_>, home: &Path) -> Result<Option<PathBuf>, BuildError> {
    let Some(clang) = find_clang(parts.linker_dir) else {
        tracing::warn!(
            "no clang to compile the pthread stubs: operators whose dependencies use threads will not link \
             (install clang-19, as scripts/setup.sh does)"
        );
        return Ok(None);
    };
    let version = run_text(&clang, &["--version"])?;
    let key = short_hash(&[version.as_bytes(), PTHREAD_STUBS_C.as_bytes()]);
    let object = home.join(format!("pthread-stubs-{key}.o"));
    if object.is_file() {
        return Ok(Some(object));
    }
    let source = home.join(format!("pthread-stubs-{key}.c"));
    std::fs::write(&source, PTHREAD_STUBS_C).map_err(io(format!("cannot write {}", source.display())))?;
    let partial = home.join(format!("pthread-stubs-{key}.o.{}", std::process::id()));
    let output = Command::new(&clang)
        .args(["--target=wasm32-wasi", "-O2", "-Wall", "-c"])
        .arg(&source)
        .arg("-o")
        .arg(&partial)
        .output()
        .map_err(io(format!("cannot run {}", clang.display())))?;
    if !output.status.success() {
        return Err(BuildError::Compile {
            name: "the pthread stubs".to_owned(),
            toolchain: clang.display().to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    std::fs::rename(&partial, &object).map_err(io(format!("cannot write {}", object.display())))?;
    Ok(Some(object))
}

/// clang of the linker's LLVM (same version as `wasm-ld`), else any
/// `/usr/lib/llvm-*/bin/clang`, else `clang` on PATH.
fn find_clang(linker_dir: &Path) -> Option<PathBuf> {
    let beside = linker_dir.join("clang");
    if beside.is_file() {
        return Some(beside);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().strip_prefix("llvm-")?.parse().ok()?;
            let clang = e.path().join("bin/clang");
            clang.is_file().then_some((major, clang))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, clang)| clang).or_else(|| {
        Command::new("clang").arg("--version").output().ok().filter(|o| o.status.success()).map(|_| "clang".into())
    })
}

fn run_text(program: &Path, args: &[&str]) -> Result<String, BuildError> {
    let output = Command::new(program).args(args).output().map_err(io(format!("cannot run {}", program.display())))?;
    if !output.status.success() {
        return Err(BuildError::NoToolchain(format!(
            "`{} {}` failed: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The first 16 hex digits of the SHA-256 of `parts` (each length-prefixed).
fn short_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(&hasher.finalize()[..8])
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> BuildError {
    move |source| BuildError::Io { what, source }
}
